"""Value types of a model from ONNX shape inference, without serializing its big weights."""

from __future__ import annotations

import math

import onnx
from onnx import ModelProto, TensorProto, TypeProto, helper

from onyx.model.graph import Model
from onyx.model.save import array_to_tensor, function_to_proto, node_to_proto
from onyx.model.types import elem_type_of

# initializers up to this many elements are given to shape inference with their data
_INFERENCE_DATA_LIMIT = 4096


def infer_types(model: Model, nested: bool = False) -> dict[str, TypeProto]:
    """Value name -> TypeProto from onnx shape inference (with data propagation).

    Large initializers travel as typed graph inputs, so no big tensor is serialized.
    ``nested``: the values of subgraphs too (their inputs, outputs and value_info), where a
    name may stand for values of several scopes: the caller keeps the names it knows unique.
    Returns what inference found; an empty dict when it fails.
    """
    g = model.graph
    typed_inputs = [helper.make_value_info(v.name, v.type) if v.type is not None else onnx.ValueInfoProto(name=v.name)
                    for v in g.inputs]
    small: list[onnx.TensorProto] = []
    known = {v.name for v in g.inputs}
    for name, value in g.initializers.items():
        if name in known:
            continue
        if value.size <= _INFERENCE_DATA_LIMIT and value.dtype != object:
            small.append(array_to_tensor(name, value))
        elif value.dtype != object:
            typed_inputs.append(helper.make_tensor_value_info(name, elem_type_of(value.dtype), value.shape))
    try:
        graph = helper.make_graph(
            [node_to_proto(n) for n in g.nodes], g.name, typed_inputs,
            [onnx.ValueInfoProto(name=v.name) for v in g.outputs], small,
            value_info=[helper.make_value_info(v.name, v.type) for v in g.value_info.values() if v.type is not None],
        )
        proto = helper.make_model(
            graph, opset_imports=[helper.make_opsetid(d, v) for d, v in model.opset.items()],
            functions=[function_to_proto(f) for f in model.functions.values()],
        )
        proto.ir_version = max(model.ir_version, 7)
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort; passes then see fewer types
        return {}
    types: dict[str, TypeProto] = {}
    graphs = [inferred.graph]
    while graphs:
        graph = graphs.pop()
        for info in list(graph.input) + list(graph.value_info) + list(graph.output):
            if info.HasField("type"):
                types.setdefault(info.name, info.type)  # the main graph's first
        if nested:
            graphs.extend(a.g for node in graph.node for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
            graphs.extend(g for node in graph.node for a in node.attribute for g in a.graphs)
    return types


def computed_types(proto: ModelProto) -> dict[str, TypeProto]:
    """Value name -> TypeProto that onnx shape inference derives for ``proto`` from its graph
    inputs, initializers and nodes alone: the declared types of graph outputs and value_info
    are left out, so those it returns are what the nodes compute. Large initializers travel
    as typed inputs; an empty dict when inference fails."""
    source = proto.graph
    light = ModelProto(ir_version=max(proto.ir_version, 7))
    light.opset_import.extend(proto.opset_import)
    light.functions.extend(proto.functions)
    graph = light.graph
    graph.name = source.name
    graph.node.extend(source.node)
    graph.input.extend(source.input)
    declared = {v.name for v in source.input}
    for tensor in source.initializer:
        if tensor.name in declared:
            continue
        if tensor.data_location != TensorProto.EXTERNAL and math.prod(tensor.dims) <= _INFERENCE_DATA_LIMIT:
            graph.initializer.append(tensor)
        else:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims))
    for sparse in source.sparse_initializer:
        if sparse.values.name not in declared:
            graph.input.append(helper.make_tensor_value_info(sparse.values.name, sparse.values.data_type, sparse.dims))
    graph.output.extend(onnx.ValueInfoProto(name=v.name) for v in source.output)
    try:
        inferred = onnx.shape_inference.infer_shapes(light)
    except Exception:  # noqa: BLE001 - inference is best effort
        return {}
    return {info.name: info.type for info in [*inferred.graph.value_info, *inferred.graph.output] if info.HasField("type")}
