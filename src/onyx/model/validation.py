"""The checks a loaded model must pass before it is optimized or planned: those onnxruntime
makes when it loads a model, each failure an InvalidGraph naming the node or value.

- the main graph has outputs; graph inputs are declared once;
- every value is defined once: no two nodes write one name, and no node overwrites a
  graph input or an initializer;
- each node of a standard domain has the input and output counts, attribute types and
  required attributes its ONNX schema (onnx.defs) gives at the model's opset;
- value types declared for graph outputs and in value_info agree with the element type the
  nodes compute (onnx shape inference), so a wrongly typed output is refused, not returned.

Dangling names, cycles and operators without a kernel are the planner's to report.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import onnx.defs
from onnx import AttributeProto, ModelProto, TypeProto

from onyx.errors import InvalidGraph
from onyx.model.graph import AttributeRef, Graph, Model, Node, ValueInfo
from onyx.model.inference import computed_types
from onyx.model.types import elem_type_name, np_dtype


def validate_model(model: Model, proto: ModelProto) -> None:
    """Raise InvalidGraph when ``model`` (converted from ``proto``) is not a graph onnxruntime would load."""
    graph = model.graph
    if not graph.outputs:
        raise InvalidGraph(f"graph '{graph.name}' has no outputs")
    check_graph(graph, model.opset)
    for function in model.functions.values():
        opset = {**model.opset, **function.opset}
        for node in function.nodes:
            check_node(node, opset)
    check_declared_types(model, proto)


def check_graph(graph: Graph, opset: Mapping[str, int]) -> None:
    """Names defined once, known element types, and each node against its schema (subgraphs too)."""
    defined: dict[str, str | Node] = {}
    for info in graph.inputs:
        if info.name in defined:
            raise InvalidGraph(f"graph '{graph.name}' declares input '{info.name}' twice")
        defined[info.name] = "a graph input"
    for info in [*graph.inputs, *graph.outputs, *graph.value_info.values()]:
        _check_element_type(info)
    for name in graph.initializers:
        defined.setdefault(name, "an initializer")
    for node in graph.nodes:
        for name in node.outputs:
            if not name:
                continue
            if name in defined:
                writer = defined[name]
                raise InvalidGraph(f"{node.describe()} writes '{name}', which "
                                   f"{writer if isinstance(writer, str) else writer.describe()} already defines")
            defined[name] = node
        check_node(node, opset)
        for value in node.attrs.values():
            for sub in value if isinstance(value, list) else [value]:
                if isinstance(sub, Graph):
                    check_graph(sub, opset)


def _check_element_type(info: ValueInfo) -> None:
    if info.is_tensor and info.type.tensor_type.elem_type:
        try:
            np_dtype(info.type.tensor_type.elem_type)
        except InvalidGraph:
            raise InvalidGraph(
                f"value '{info.name}' is declared with element type {info.type.tensor_type.elem_type}, "
                "which ONNX does not define"
            ) from None


@dataclass(frozen=True)
class _Signature:
    """What the checks need from an operator's schema (read once per operator and version)."""

    since: int
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    attribute_types: dict[str, int]
    required: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def _signature(op_type: str, version: int, domain: str) -> _Signature | None:
    try:
        schema = onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None  # a custom or contrib operator: its kernel checks its own inputs
    attributes = schema.attributes
    return _Signature(
        since=schema.since_version,
        inputs=(schema.min_input, schema.max_input),
        outputs=(schema.min_output, schema.max_output),
        attribute_types={name: int(attr.type) for name, attr in attributes.items()},
        required=tuple(name for name, attr in attributes.items() if attr.required),
    )


def check_node(node: Node, opset: Mapping[str, int]) -> None:
    """Input and output counts, attribute types and required attributes against the schema."""
    version = opset.get(node.domain)
    signature = None if version is None else _signature(node.op_type, version, node.domain)
    if signature is None:
        return
    for kind, count, (low, high) in [("inputs", len(node.inputs), signature.inputs),
                                     ("outputs", len(node.outputs), signature.outputs)]:
        if not low <= count <= high:
            expected = f"{low}" if low == high else f"{low} to {high}" if high < 1 << 30 else f"at least {low}"
            raise InvalidGraph(
                f"{_where(node, version)} has {count} {kind}; {node.op_type}-{signature.since} takes {expected}"
            )
    for name in signature.required:
        if name not in node.attrs:
            raise InvalidGraph(f"{_where(node, version)} lacks the required attribute '{name}'")
    if node.proto is None:
        return
    for given in node.proto.attribute:
        expected = signature.attribute_types.get(given.name)
        if expected is None or given.type in (expected, AttributeProto.UNDEFINED) \
                or isinstance(node.attrs.get(given.name), AttributeRef):
            continue
        raise InvalidGraph(
            f"{_where(node, version)}: attribute '{given.name}' is of type {AttributeProto.AttributeType.Name(given.type)}, "
            f"but {node.op_type}-{signature.since} defines it as {AttributeProto.AttributeType.Name(expected)}"
        )


def _where(node: Node, version: int) -> str:
    return f"{node.describe()} ({node.domain or 'ai.onnx'} opset {version})"


def check_declared_types(model: Model, proto: ModelProto) -> None:
    """Graph outputs and value_info whose declared element type differs from what the nodes compute."""
    graph = model.graph
    declared = [*graph.outputs, *graph.value_info.values()]
    if not any(_elem_type(info.type) for info in declared):
        return
    computed = computed_types(proto)
    producers = {name: node for node in graph.nodes for name in node.outputs if name}
    inputs = {v.name for v in graph.inputs} | set(graph.initializers)
    for info in declared:
        want, got = _elem_type(info.type), _elem_type(computed.get(info.name))
        if want and got and want != got and info.name not in inputs and info.name in producers:
            raise InvalidGraph(
                f"value '{info.name}' is declared as tensor({elem_type_name(want)}), but "
                f"{producers[info.name].describe()} computes tensor({elem_type_name(got)})"
            )


def _elem_type(tp: TypeProto | None) -> int:
    if tp is None or tp.WhichOneof("value") != "tensor_type":
        return 0
    return tp.tensor_type.elem_type
