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

from collections.abc import Mapping

import onnx.defs
from onnx import AttributeProto, TypeProto

from onyx.errors import InvalidGraph
from onyx.model.graph import AttributeRef, Graph, Model, Node, ValueInfo
from onyx.model.inference import infer_types
from onyx.model.types import elem_type_name, np_dtype


def validate_model(model: Model) -> None:
    """Raise InvalidGraph when ``model`` is not a graph onnxruntime would load."""
    graph = model.graph
    if not graph.outputs:
        raise InvalidGraph(f"graph '{graph.name}' has no outputs")
    check_graph(graph, model.opset)
    for function in model.functions.values():
        opset = {**model.opset, **function.opset}
        for node in function.nodes:
            check_node(node, opset)
    check_declared_types(model)


def check_graph(graph: Graph, opset: Mapping[str, int]) -> None:
    """Names defined once, known element types, and each node against its schema (subgraphs too)."""
    defined: dict[str, str] = {}
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
                raise InvalidGraph(f"{node.describe()} writes '{name}', which {defined[name]} already defines")
            defined[name] = node.describe()
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


def _schema(node: Node, opset: Mapping[str, int]) -> onnx.defs.OpSchema | None:
    version = opset.get(node.domain)
    if version is None:
        return None
    try:
        return onnx.defs.get_schema(node.op_type, version, node.domain)
    except onnx.defs.SchemaError:
        return None  # a custom or contrib operator: its kernel checks its own inputs


def check_node(node: Node, opset: Mapping[str, int]) -> None:
    """Input and output counts, attribute types and required attributes against the schema."""
    schema = _schema(node, opset)
    if schema is None:
        return
    where = f"{node.describe()} ({node.domain or 'ai.onnx'} opset {opset[node.domain]})"
    for kind, count, low, high in [("inputs", len(node.inputs), schema.min_input, schema.max_input),
                                   ("outputs", len(node.outputs), schema.min_output, schema.max_output)]:
        if not low <= count <= high:
            expected = f"{low}" if low == high else f"{low} to {high}" if high < 1 << 30 else f"at least {low}"
            raise InvalidGraph(f"{where} has {count} {kind}; {node.op_type}-{schema.since_version} takes {expected}")
    declared = {a.name: a for a in node.proto.attribute} if node.proto is not None else {}
    for name, attr in schema.attributes.items():
        given = declared.get(name)
        if attr.required and name not in node.attrs:
            raise InvalidGraph(f"{where} lacks the required attribute '{name}'")
        if given is None or isinstance(node.attrs.get(name), AttributeRef) or given.type == AttributeProto.UNDEFINED:
            continue
        if int(given.type) != int(attr.type):
            raise InvalidGraph(
                f"{where}: attribute '{name}' is of type {AttributeProto.AttributeType.Name(given.type)}, "
                f"but {node.op_type}-{schema.since_version} defines it as {attr.type.name}"
            )


def check_declared_types(model: Model) -> None:
    """Graph outputs and value_info whose declared element type differs from what the nodes compute."""
    graph = model.graph
    declared = [*graph.outputs, *graph.value_info.values()]
    if not any(_elem_type(info.type) for info in declared):
        return
    computed = infer_types(model, hints=False)
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
