"""onyx IR -> ONNX protobufs, so an optimized graph can be saved and opened by any runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, helper, numpy_helper

from onyx.model.graph import AttributeRef, Function, Graph, Model, Node


def array_to_tensor(name: str, value: np.ndarray) -> onnx.TensorProto:
    """A TensorProto named ``name``; object arrays are stored as UTF-8 strings."""
    value = np.asarray(value)
    if value.dtype == object:
        encoded = np.array([s.encode("utf-8") if isinstance(s, str) else s for s in value.reshape(-1)], dtype=object)
        return helper.make_tensor(name, onnx.TensorProto.STRING, value.shape, encoded.tolist())
    return numpy_helper.from_array(np.ascontiguousarray(value), name)


_NUMBER_LISTS = {AttributeProto.FLOATS: "floats", AttributeProto.INTS: "ints"}


def _attribute(name: str, value: Any, original: AttributeProto | None) -> AttributeProto:
    if isinstance(value, AttributeRef):
        attr = AttributeProto(name=name, ref_attr_name=value.name)
        attr.type = original.type if original is not None else AttributeProto.UNDEFINED
        return attr
    if isinstance(value, Graph):
        return helper.make_attribute(name, graph_to_proto(value))
    if isinstance(value, np.ndarray):
        return helper.make_attribute(name, array_to_tensor("", value))
    if isinstance(value, list):
        if value and isinstance(value[0], Graph):
            return helper.make_attribute(name, [graph_to_proto(g) for g in value])
        if value and isinstance(value[0], np.ndarray):
            return helper.make_attribute(name, [array_to_tensor("", v) for v in value])
        if not value:
            kind = original.type if original is not None else AttributeProto.INTS
            return helper.make_attribute(name, [], attr_type=kind)
        if original is not None and original.type in _NUMBER_LISTS:  # skips make_attribute's per-item checks,
            attr = AttributeProto(name=name, type=original.type)  # slow on the long lists of ML models
            getattr(attr, _NUMBER_LISTS[original.type]).extend(value)
            return attr
    return helper.make_attribute(name, value)


def node_to_proto(node: Node) -> NodeProto:
    originals = {a.name: a for a in node.proto.attribute} if node.proto is not None else {}
    proto = helper.make_node(node.op_type, node.inputs, node.outputs, name=node.name or None,
                             domain=node.domain or None)
    proto.attribute.extend(_attribute(k, v, originals.get(k)) for k, v in node.attrs.items())
    return proto


def _value_info(info) -> onnx.ValueInfoProto:
    proto = onnx.ValueInfoProto(name=info.name)
    if info.type is not None:
        proto.type.CopyFrom(info.type)
    return proto


def graph_to_proto(graph: Graph) -> GraphProto:
    return helper.make_graph(
        [node_to_proto(n) for n in graph.nodes],
        graph.name,
        [_value_info(v) for v in graph.inputs],
        [_value_info(v) for v in graph.outputs],
        [array_to_tensor(name, value) for name, value in graph.initializers.items()],
        doc_string=graph.doc_string or None,
        value_info=[_value_info(v) for v in graph.value_info.values()],
    )


def function_to_proto(function: Function) -> onnx.FunctionProto:
    return helper.make_function(
        function.domain, function.name, function.inputs, function.outputs,
        [node_to_proto(n) for n in function.nodes],
        [helper.make_opsetid(d, v) for d, v in function.opset.items()],
        attributes=[k for k, v in function.attribute_defaults.items() if v is None],
        attribute_protos=[_attribute(k, v, None) for k, v in function.attribute_defaults.items() if v is not None],
    )


def model_to_proto(model: Model) -> ModelProto:
    proto = helper.make_model(
        graph_to_proto(model.graph),
        opset_imports=[helper.make_opsetid(d, v) for d, v in model.opset.items()],
        functions=[function_to_proto(f) for f in model.functions.values()],
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        domain=model.domain,
        model_version=model.model_version,
        doc_string=model.doc_string,
    )
    proto.ir_version = model.ir_version or proto.ir_version
    helper.set_model_props(proto, model.metadata)
    return proto

