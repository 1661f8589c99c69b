"""Function calls: a node whose operator is a model-local function, or an operator the
ONNX standard defines as a function, runs its body as a sub-plan.

The body's attribute references are resolved against the calling node once, at
session creation; the body runs with the function's own opset imports.
"""

from __future__ import annotations

from typing import Any, Callable

import onnx.defs
from onnx import FunctionProto

from onyx.model.convert import function_from_proto
from onyx.model.graph import AttributeRef, Function, Graph, Node, ValueInfo


def schema_function(node: Node, opset: int, input_types: list[Any]) -> Function | None:
    """The standard's function body for ``node`` at ``opset``, or None if it has none.

    ``input_types`` are the TypeProtos of the node's inputs (None where unknown); only
    context-dependent functions need them.
    """
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    data = b""
    if schema.has_function:
        versions = [v for v in schema.function_opset_versions if v <= opset]
        if versions:
            data = schema.get_function_with_opset_version(max(versions))
    if not data and schema.has_context_dependent_function and node.proto is not None:
        versions = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
        if versions and all(t is not None for t in input_types):
            data = schema.get_context_dependent_function_with_opset_version(
                max(versions), node.proto.SerializeToString(), [t.SerializeToString() for t in input_types]
            )
    if not data:
        return None
    proto = FunctionProto()
    proto.ParseFromString(data)
    return function_from_proto(proto, None)


def resolve_attributes(nodes: list[Node], attrs: dict[str, Any]) -> list[Node]:
    """Copies of ``nodes`` with every AttributeRef replaced by the caller's value (dropped if unset)."""
    resolved = []
    for node in nodes:
        new_attrs = {}
        for key, value in node.attrs.items():
            if isinstance(value, AttributeRef):
                value = attrs.get(value.name)
                if value is None:
                    continue
            elif isinstance(value, Graph):
                value = _resolve_graph(value, attrs)
            new_attrs[key] = value
        resolved.append(Node(node.op_type, node.inputs, node.outputs, new_attrs, node.domain, node.name, node.proto))
    return resolved


def _resolve_graph(graph: Graph, attrs: dict[str, Any]) -> Graph:
    return Graph(
        graph.name, resolve_attributes(graph.nodes, attrs), graph.inputs, graph.outputs,
        graph.initializers, graph.value_info, graph.doc_string,
    )


def function_graph(function: Function, node: Node) -> Graph:
    """The body of ``function`` as a graph, specialised to the attributes of the calling ``node``."""
    attrs = {k: v for k, v in function.attribute_defaults.items() if v is not None}
    attrs.update(node.attrs)
    return Graph(
        name=f"function {function.domain or 'ai.onnx'}::{function.name}",
        nodes=resolve_attributes(function.nodes, attrs),
        inputs=[ValueInfo(name) for name in function.inputs],
        outputs=[ValueInfo(name) for name in function.outputs],
    )


def call_function(body: Any, n_inputs: int) -> Callable[..., tuple]:
    """A kernel-like callable running the planned ``body`` (missing trailing inputs are None)."""

    def run(*args: Any) -> tuple:
        padded = list(args) + [None] * (n_inputs - len(args))
        return tuple(body.run(padded))

    return run
