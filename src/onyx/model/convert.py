"""ONNX protobufs -> onyx IR (graphs, nodes, attributes, tensors)."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import AttributeProto, FunctionProto, GraphProto, NodeProto, TensorProto, numpy_helper

from onyx.errors import InvalidGraph
from onyx.model.external_data import load_external_tensor
from onyx.model.graph import AttributeRef, Function, Graph, Node, ValueInfo
from onyx.ops.registry import normalize_domain


def text(value: str | bytes, what: str) -> str:
    """A protobuf string field; protobuf hands back bytes when the field is not valid UTF-8."""
    if isinstance(value, bytes):
        raise InvalidGraph(f"{what} {value[:40]!r} is not valid UTF-8 (the model is corrupt)")
    return value


def texts(values: Any, what: str) -> list[str]:
    return [text(v, what) for v in values]


def description(value: str | bytes) -> str:
    """A free-text field (doc strings, producer, metadata): invalid UTF-8 is replaced, not refused."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def opset_imports(entries: Any) -> dict[str, int]:
    return {normalize_domain(text(o.domain, "opset domain")): o.version for o in entries}


def tensor_to_array(tensor: TensorProto, base_dir: str | None) -> np.ndarray:
    """A TensorProto as a read-only NumPy array (string tensors: object arrays of str).

    Read-only because the model's constants are shared by every run: no kernel may modify them.
    """
    check_dims(tensor.dims, f"tensor '{tensor.name}'")
    if tensor.data_location == TensorProto.EXTERNAL:
        return load_external_tensor(tensor, base_dir)
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - protobuf content is user input
        raise InvalidGraph(f"tensor '{tensor.name}' cannot be decoded: {exc}") from None
    if tensor.data_type == TensorProto.STRING:
        array = decode_strings(array)
    array.flags.writeable = False
    return array


def decode_strings(array: np.ndarray) -> np.ndarray:
    """bytes elements -> str (UTF-8, invalid bytes replaced), as an object array."""
    out = np.empty(array.shape, dtype=object)
    flat = out.reshape(-1)
    for i, item in enumerate(array.reshape(-1)):
        flat[i] = item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)
    return out


def check_dims(dims: Any, what: str) -> None:
    """Refuse negative dims (onnxruntime does too: they would be read as NumPy's -1 = 'infer')."""
    if any(d < 0 for d in dims):
        raise InvalidGraph(f"{what} has negative dims {list(dims)}")


# A sparse tensor is made dense at load: refuse dense sizes no machine could hold before allocating.
MAX_DENSE_ELEMENTS = 1 << 40


def sparse_to_array(sparse: Any, base_dir: str | None) -> np.ndarray:
    """A SparseTensorProto as a dense array; indices and dims are checked against each other."""
    name = sparse.values.name
    dims = tuple(sparse.dims)
    check_dims(dims, f"sparse tensor '{name}'")
    size = int(np.prod(dims, dtype=object))
    values = tensor_to_array(sparse.values, base_dir)
    indices = tensor_to_array(sparse.indices, base_dir)
    count = values.size
    if values.ndim != 1 or indices.dtype.kind not in "iu" or indices.shape not in ((count,), (count, len(dims))):
        raise InvalidGraph(
            f"sparse tensor '{name}': values of shape {list(values.shape)} and indices of shape "
            f"{list(indices.shape)} ({indices.dtype}) do not describe {count} elements of a {len(dims)}-d tensor"
        )
    bounds = [size] if indices.ndim == 1 else list(dims)
    if count and (indices.min() < 0 or (indices >= np.array(bounds, dtype=object)).any()):
        raise InvalidGraph(f"sparse tensor '{name}': indices lie outside its dims {list(dims)}")
    if size > MAX_DENSE_ELEMENTS:
        raise InvalidGraph(f"sparse tensor '{name}' of dims {list(dims)} is too large to make dense ({size} elements)")
    flat = indices.astype(np.int64) if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), dims)
    try:
        dense = np.zeros(dims, dtype=values.dtype)
    except MemoryError:
        raise InvalidGraph(f"sparse tensor '{name}' of dims {list(dims)} does not fit in memory when made dense") from None
    dense.reshape(-1)[flat] = values
    dense.flags.writeable = False
    return dense


def attribute_value(attr: AttributeProto, base_dir: str | None, in_function: bool = False) -> Any:
    """The Python value of an attribute: number, str, list, array, Graph or TypeProto.

    A reference to the caller's attribute (``ref_attr_name``) means something only inside a
    function body; elsewhere it is ignored and the attribute's own value is used, as
    onnxruntime does.
    """
    if attr.ref_attr_name and in_function:
        return AttributeRef(attr.ref_attr_name)
    t = attr.type
    A = AttributeProto
    if t == A.FLOAT:
        return attr.f
    if t == A.INT:
        return attr.i
    if t == A.STRING:  # text as str; other bytes (a serialized tokenizer model, say) stay bytes
        try:
            return attr.s.decode("utf-8")
        except UnicodeDecodeError:
            return attr.s
    if t == A.TENSOR:
        return tensor_to_array(attr.t, base_dir)
    if t == A.GRAPH:
        return graph_from_proto(attr.g, base_dir, in_function)
    if t == A.SPARSE_TENSOR:
        return sparse_to_array(attr.sparse_tensor, base_dir)
    if t == A.TYPE_PROTO:
        return attr.tp
    if t == A.FLOATS:
        return list(attr.floats)
    if t == A.INTS:
        return list(attr.ints)
    if t == A.STRINGS:
        return [s.decode("utf-8", errors="replace") for s in attr.strings]
    if t == A.TENSORS:
        return [tensor_to_array(x, base_dir) for x in attr.tensors]
    if t == A.GRAPHS:
        return [graph_from_proto(g, base_dir, in_function) for g in attr.graphs]
    if t == A.SPARSE_TENSORS:
        return [sparse_to_array(x, base_dir) for x in attr.sparse_tensors]
    if t == A.TYPE_PROTOS:
        return list(attr.type_protos)
    raise InvalidGraph(f"attribute '{attr.name}' has unknown type {t}")


def node_from_proto(node: NodeProto, base_dir: str | None, in_function: bool = False) -> Node:
    return Node(
        op_type=text(node.op_type, "operator type"),
        inputs=texts(node.input, "node input name"),
        outputs=texts(node.output, "node output name"),
        attrs={text(a.name, "attribute name"): attribute_value(a, base_dir, in_function) for a in node.attribute},
        domain=normalize_domain(text(node.domain, "domain")),
        name=text(node.name, "node name"),
        proto=node,
    )


def graph_from_proto(graph: GraphProto, base_dir: str | None, in_function: bool = False) -> Graph:
    initializers: dict[str, Any] = {text(t.name, "initializer name"): tensor_to_array(t, base_dir) for t in graph.initializer}
    for sparse in graph.sparse_initializer:
        initializers[text(sparse.values.name, "initializer name")] = sparse_to_array(sparse, base_dir)
    return Graph(
        name=text(graph.name, "graph name"),
        nodes=[node_from_proto(n, base_dir, in_function) for n in graph.node],
        inputs=[_value_info(v) for v in graph.input],
        outputs=[_value_info(v) for v in graph.output],
        initializers=initializers,
        value_info={v.name: _value_info(v) for v in graph.value_info if v.HasField("type")},
        doc_string=description(graph.doc_string),
    )


def _value_info(value: Any) -> ValueInfo:
    return ValueInfo(text(value.name, "value name"), value.type if value.HasField("type") else None)


def function_from_proto(func: FunctionProto, base_dir: str | None) -> Function:
    defaults = {text(a.name, "attribute name"): attribute_value(a, base_dir) for a in func.attribute_proto}
    defaults.update({name: None for name in texts(func.attribute, "attribute name") if name not in defaults})
    return Function(
        name=text(func.name, "function name"),
        domain=normalize_domain(text(func.domain, "function domain")),
        inputs=texts(func.input, "function input name"),
        outputs=texts(func.output, "function output name"),
        attribute_defaults=defaults,
        nodes=[node_from_proto(n, base_dir, in_function=True) for n in func.node],
        opset=opset_imports(func.opset_import),
    )
