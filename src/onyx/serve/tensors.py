"""KServe v2 tensor datatypes: names, NumPy dtypes, and the raw byte layout of Triton's binary extension."""

from __future__ import annotations

import math
import struct

import ml_dtypes
import numpy as np

from onyx.serve.errors import RequestError

# KServe v2 datatype name -> NumPy dtype (BYTES is an object array of bytes)
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "BYTES": np.dtype(object),
}

# onnxruntime-style type strings ("tensor(float)") -> KServe datatype
_ONNX_TYPES = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
    "float": "FP32", "double": "FP64", "bfloat16": "BF16", "string": "BYTES",
}


def datatype_of_onnx(type_str: str) -> str | None:
    """The KServe datatype of an onnx type string such as ``tensor(float)``; None for non-tensors."""
    if not type_str.startswith("tensor(") or not type_str.endswith(")"):
        return None
    return _ONNX_TYPES.get(type_str[len("tensor("):-1])


def datatype_of_array(array: np.ndarray) -> str:
    """The KServe datatype of an output array."""
    if array.dtype.kind in "OSU":
        return "BYTES"
    for name, dtype in DTYPES.items():
        if dtype == array.dtype:
            return name
    raise RequestError(f"output dtype {array.dtype} has no KServe datatype", status=500)


def from_json(data: object, datatype: str, shape: list[int]) -> np.ndarray:
    """A tensor from the JSON ``data`` field (flat or nested, row-major)."""
    if datatype == "BYTES":
        flat = np.array([_text(item) for item in _flatten(data)], dtype=object)
    else:
        values = _flatten(data)
        if not all(isinstance(v, (int, float)) for v in values):
            raise RequestError(f"data of a {datatype} tensor must hold numbers only")
        try:
            flat = np.asarray(values, dtype=DTYPES[datatype])
        except (TypeError, ValueError, OverflowError) as exc:
            raise RequestError(f"data does not hold {datatype} values: {exc}") from None
    count = math.prod(shape)
    if flat.size != count:
        raise RequestError(f"data has {flat.size} elements but shape {shape} needs {count}")
    return flat.reshape(shape)


def _text(item: object) -> str:
    """A string-tensor element: ONNX strings are UTF-8 text."""
    if isinstance(item, str):
        return item
    if isinstance(item, bytes):
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("BYTES elements must be UTF-8 text for an ONNX string tensor") from None
    raise RequestError(f"BYTES data must hold strings, not {type(item).__name__}")


def _flatten(data: object) -> list:
    if not isinstance(data, list):
        raise RequestError("'data' must be a JSON list")
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def from_bytes(raw: bytes, datatype: str, shape: list[int]) -> np.ndarray:
    """A tensor from its binary-extension bytes (little-endian; BYTES elements length-prefixed)."""
    count = math.prod(shape)
    if datatype == "BYTES":
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise RequestError("BYTES data ends inside an element's length prefix")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise RequestError("BYTES data ends inside an element")
            items.append(_text(raw[offset:offset + length]))
            offset += length
        if len(items) != count:
            raise RequestError(f"binary data holds {len(items)} BYTES elements but shape {shape} needs {count}")
        return np.array(items, dtype=object).reshape(shape)
    dtype = DTYPES[datatype].newbyteorder("<")
    if len(raw) != count * dtype.itemsize:
        raise RequestError(f"binary data has {len(raw)} bytes but shape {shape} of {datatype} needs "
                           f"{count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype).astype(DTYPES[datatype], copy=False).reshape(shape)


def to_bytes(array: np.ndarray) -> bytes:
    """The binary-extension bytes of an output tensor."""
    if array.dtype.kind in "OSU":
        parts = []
        for item in array.reshape(-1):
            data = item.encode() if isinstance(item, str) else bytes(item)
            parts += [struct.pack("<I", len(data)), data]
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def to_json(array: np.ndarray) -> list:
    """The flat JSON ``data`` list of an output tensor."""
    flat = array.reshape(-1)
    if array.dtype.kind in "OSU":
        return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in flat]
    if array.dtype == DTYPES["BF16"]:
        flat = flat.astype(np.float32)
    return flat.tolist()
