"""Value types of a model from ONNX shape inference, without serializing its big weights."""

from __future__ import annotations

import onnx
from onnx import TypeProto, helper

from onyx.model.graph import Model
from onyx.model.save import array_to_tensor, function_to_proto, node_to_proto
from onyx.model.types import elem_type_of

# initializers up to this many elements are given to shape inference with their data
_INFERENCE_DATA_LIMIT = 4096


def infer_types(model: Model, hints: bool = True) -> dict[str, TypeProto]:
    """Value name -> TypeProto from onnx shape inference (with data propagation).

    Large initializers travel as typed graph inputs, so no big tensor is serialized. The
    graph outputs' declared types are not given to inference, nor, without ``hints``, those
    of value_info, so what it returns for them is what the nodes compute.
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
            value_info=[helper.make_value_info(v.name, v.type) for v in g.value_info.values()
                        if hints and v.type is not None],
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
    for info in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        if info.HasField("type"):
            types[info.name] = info.type
    return types
