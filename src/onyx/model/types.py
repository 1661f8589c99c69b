"""Mapping between ONNX types (TypeProto, element types) and NumPy dtypes."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, TypeProto, helper

from onyx.errors import InvalidGraph

# ONNX element type -> name used in onnxruntime type strings such as "tensor(float)".
_ELEM_NAMES = {
    TensorProto.FLOAT: "float",
    TensorProto.UINT8: "uint8",
    TensorProto.INT8: "int8",
    TensorProto.UINT16: "uint16",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
    TensorProto.STRING: "string",
    TensorProto.BOOL: "bool",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "double",
    TensorProto.UINT32: "uint32",
    TensorProto.UINT64: "uint64",
    TensorProto.COMPLEX64: "complex64",
    TensorProto.COMPLEX128: "complex128",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.FLOAT8E4M3FN: "float8e4m3fn",
    TensorProto.FLOAT8E4M3FNUZ: "float8e4m3fnuz",
    TensorProto.FLOAT8E5M2: "float8e5m2",
    TensorProto.FLOAT8E5M2FNUZ: "float8e5m2fnuz",
    TensorProto.UINT4: "uint4",
    TensorProto.INT4: "int4",
    TensorProto.FLOAT4E2M1: "float4e2m1",
}
for _name in ("FLOAT8E8M0", "UINT2", "INT2"):
    if hasattr(TensorProto, _name):
        _ELEM_NAMES[getattr(TensorProto, _name)] = _name.lower()


def elem_type_name(elem_type: int) -> str:
    """'float' for TensorProto.FLOAT, as onnxruntime spells element types."""
    return _ELEM_NAMES.get(elem_type, f"unknown({elem_type})")


def np_dtype(elem_type: int) -> np.dtype:
    """NumPy dtype for an ONNX element type (ml_dtypes for the small floats and ints)."""
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except KeyError:
        raise InvalidGraph(f"{elem_type} is not an ONNX element type (the model is corrupt)") from None


def elem_type_of(dtype: np.dtype) -> int:
    """ONNX element type for a NumPy dtype; strings map to STRING."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OUS":
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


def type_string(tp: TypeProto) -> str:
    """onnxruntime's spelling of a type: tensor(float), seq(tensor(int64)), map(string,tensor(float))."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({elem_type_name(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({elem_type_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if kind == "map_type":
        key = elem_type_name(tp.map_type.key_type)
        return f"map({key},{type_string(tp.map_type.value_type)})"
    if kind == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    return "unknown"


def shape_of(tp: TypeProto) -> list[int | str | None] | None:
    """Declared shape of a tensor type: ints, symbolic names, None for unknown dims
    (negative dim_values included, as onnxruntime reads them).

    None when the type has no shape (rank unknown) or is not a tensor.
    """
    kind = tp.WhichOneof("value")
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return None
    tensor = getattr(tp, kind)
    if not tensor.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in tensor.shape.dim:
        which = d.WhichOneof("value")
        if which == "dim_value" and d.dim_value >= 0:
            dims.append(d.dim_value)
        else:  # a negative dim_value (older Caffe2 and Paddle exports) is a free dimension
            dims.append(d.dim_param if which == "dim_param" else None)
    return dims


def np_dtype_from_type_string(type_str: str) -> np.dtype:
    """NumPy dtype of an onnxruntime tensor type string: 'tensor(float)' -> float32."""
    by_name = {name: elem for elem, name in _ELEM_NAMES.items()}
    name = type_str.removeprefix("tensor(").removesuffix(")")
    if not type_str.startswith("tensor(") or name not in by_name:
        raise ValueError(f"'{type_str}' is not a tensor type")
    return np_dtype(by_name[name])
