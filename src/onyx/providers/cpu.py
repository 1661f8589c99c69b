"""The CPU provider: onyx's NumPy kernels (onyx.ops registry) and function bodies.

It is always the last provider: it takes every node no provider before it claimed. Its
partitions become one step per node (a kernel with its attributes bound), the flat step
list the executor walks, so running on the CPU costs nothing for being a provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import onnx.defs

from onyx.errors import InvalidGraph, OnyxError, UnsupportedOperator
from onyx.model.graph import Function, Graph, Node
from onyx.model.topology import subgraph_free_names
from onyx.ops import registry
from onyx.providers.base import HOST, ExecutionProvider, Partition, StepBuilder
from onyx.runtime.functions import call_function, function_graph, schema_function

# functions calling functions: onnxruntime refuses more than 100 levels, and so does onyx
MAX_FUNCTION_DEPTH = 100

CPU = "CPUExecutionProvider"


class PlanBuilder(StepBuilder, Protocol):
    """The plan-side services the CPU provider uses beyond adding steps."""

    functions: dict[tuple[str, str], Function]
    calling: frozenset[tuple[str, str]]

    def subplan(self, graph: Graph, opset: Mapping[str, int] | None = None,
                calling: frozenset[tuple[str, str]] | None = None, nested: bool = True) -> Any: ...

    def value_type(self, name: str) -> Any: ...


class CPUProvider(ExecutionProvider):
    """Runs nodes with onyx's NumPy kernels, or with their function bodies."""

    name = CPU
    device = HOST

    def __init__(self, options: Mapping[str, Any] | None = None, compiled_kernels: bool = False):
        super().__init__(options)
        self.compiled_kernels = compiled_kernels  # preparing kernels may choose compiled code

    def capability(self, graph: Graph, opset: Mapping[str, int]) -> Iterable[Node]:
        """Nodes with a kernel for the model's opset or a standard function body, and nodes of
        domains the model does not import (model-local functions, which the plan checks)."""
        for node in graph.nodes:
            version = opset.get(node.domain)
            if (version is None or registry.lookup(node.domain, node.op_type, version) is not None
                    or _has_schema_function(node, version)):
                yield node

    def fusions(self) -> Sequence[Any]:
        from onyx.optimizer import CPU_FUSIONS, ELEMENTWISE_FUSION

        return (ELEMENTWISE_FUSION,) + CPU_FUSIONS if self.compiled_kernels else CPU_FUSIONS

    def emit(self, partition: Partition, builder: PlanBuilder) -> None:  # type: ignore[override]
        for node in partition.nodes:
            self._emit_node(node, builder)

    def _emit_node(self, node: Node, builder: PlanBuilder) -> None:
        opset = builder.opset.get(node.domain)
        if opset is None and (node.domain, node.op_type) in builder.functions:
            return self._emit_function(node, 1, builder)
        if opset is None:
            raise InvalidGraph(
                f"{node.describe()} uses domain '{node.domain or 'ai.onnx'}', which the model does not import"
            )
        kdef = registry.lookup(node.domain, node.op_type, opset)
        if kdef is None:
            return self._emit_function(node, opset, builder)
        attrs = dict(node.attrs)
        unknown = set(attrs) - kdef.attribute_names
        if unknown and not kdef.accepts_any_attribute:
            raise InvalidGraph(
                f"{node.describe()} has attribute(s) {sorted(unknown)} that {node.op_type}-{kdef.since} "
                "does not define"
            )
        for key, value in attrs.items():
            if isinstance(value, Graph):
                attrs[key] = builder.subplan(value)
        if kdef.wants_num_outputs:
            attrs["_num_outputs"] = len(node.outputs)
        context = self._node_context(node, builder) if kdef.wants_node else None
        fn = _prepared(kdef, attrs, node, context) if kdef.prepare else kdef.bind(attrs)
        implicit = sorted(subgraph_free_names(node)) if kdef.wants_outer else None
        builder.add_step(node, fn, node.inputs, node.outputs, HOST, implicit)

    def _node_context(self, node: Node, builder: PlanBuilder) -> registry.NodeContext:
        """What a preparing kernel may know of ``node``: its constant inputs (initializers that
        no feed can override), their declared types, and whether compiled kernels are allowed."""
        graph = builder.graph
        fed = {v.name for v in graph.inputs}
        constants = tuple(graph.initializers.get(n) if n and n not in fed else None for n in node.inputs)
        types = tuple(builder.value_type(n) if n else None for n in node.inputs)
        return registry.NodeContext(constants, types, self.compiled_kernels)

    def _emit_function(self, node: Node, opset: int, builder: PlanBuilder) -> None:
        """A step running the body of a model-local or standard function (no kernel exists)."""
        key = (node.domain, node.op_type)
        if key in builder.calling:
            raise InvalidGraph(f"function {node.domain}::{node.op_type} calls itself ({node.describe()})")
        if len(builder.calling) >= MAX_FUNCTION_DEPTH:
            raise InvalidGraph(
                f"{node.describe()}: function calls nest deeper than {MAX_FUNCTION_DEPTH} "
                f"(calling {node.domain or 'ai.onnx'}::{node.op_type})"
            )
        function = builder.functions.get(key)
        if function is None:
            function = schema_function(node, opset, [builder.value_type(n) for n in node.inputs])
        if function is None:
            raise UnsupportedOperator(
                f"onyx has no kernel for {node.domain or 'ai.onnx'}::{node.op_type} at opset {opset} "
                f"(needed by {node.describe()})"
            )
        body = builder.subplan(function_graph(function, node), {**builder.opset, **function.opset},
                               calling=builder.calling | {key}, nested=False)
        builder.add_step(node, call_function(body, len(function.inputs)), node.inputs, node.outputs, HOST)


def _prepared(kdef: registry.KernelDef, attrs: dict[str, Any], node: Node,
              context: registry.NodeContext | None) -> Any:
    """What a preparing kernel makes of the node's attributes, its failures named as the node's."""
    try:
        return kdef.bind(attrs, context)
    except OnyxError:
        raise
    except Exception as exc:
        raise InvalidGraph(f"{node.describe()} cannot be prepared: {type(exc).__name__}: {exc}") from exc


def _has_schema_function(node: Node, opset: int) -> bool:
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return False
    return schema.has_function or schema.has_context_dependent_function
