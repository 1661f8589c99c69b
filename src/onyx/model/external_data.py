"""Reading tensors whose bytes live in files beside the model, safely.

A location must be a relative path that stays inside the model's folder after
resolving symlinks; anything else is refused before a byte is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, numpy_helper

from onyx.errors import InvalidGraph, NoSuchFile, UnsafeExternalData
from onyx.model.types import np_dtype

# Element types whose external bytes are the plain little-endian array, so they can be memory-mapped.
_PACKED_TYPES = {TensorProto.STRING, TensorProto.UINT4, TensorProto.INT4, TensorProto.FLOAT4E2M1}
for _name in ("UINT2", "INT2"):
    if hasattr(TensorProto, _name):
        _PACKED_TYPES.add(getattr(TensorProto, _name))


def resolve_location(location: str, base_dir: str | None, tensor_name: str) -> Path:
    """The file a tensor's external data lives in, refusing anything outside ``base_dir``."""
    if base_dir is None:
        raise InvalidGraph(
            f"tensor '{tensor_name}' stores its data in external file '{location}', but the model "
            "was not loaded from a path; load it from its file so onyx knows the folder to read from"
        )
    if not location or os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
        raise UnsafeExternalData(
            f"tensor '{tensor_name}': external data location '{location}' must be a relative path "
            "inside the model's folder"
        )
    if ".." in Path(location.replace("\\", "/")).parts:
        raise UnsafeExternalData(
            f"tensor '{tensor_name}': external data location '{location}' contains '..'; "
            "it must stay inside the model's folder"
        )
    root = Path(base_dir).resolve()
    path = (root / location).resolve()
    if path != root and root not in path.parents:
        raise UnsafeExternalData(
            f"tensor '{tensor_name}': external data location '{location}' resolves to '{path}', "
            f"outside the model's folder '{root}'"
        )
    if not path.is_file():
        raise NoSuchFile(f"tensor '{tensor_name}': external data file '{path}' does not exist")
    return path


def load_external_tensor(tensor: TensorProto, base_dir: str | None) -> np.ndarray:
    """The array of a tensor whose data_location is EXTERNAL (memory-mapped when possible)."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    path = resolve_location(info.get("location", ""), base_dir, tensor.name)
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError as exc:
        raise InvalidGraph(f"tensor '{tensor.name}': bad external data offset/length ({exc})") from None
    file_size = path.stat().st_size
    if length is None:
        length = file_size - offset
    if offset < 0 or length < 0 or offset + length > file_size:
        raise InvalidGraph(
            f"tensor '{tensor.name}': external data [{offset}, {offset + length}) lies outside "
            f"'{path.name}' ({file_size} bytes); the file is truncated or the model is corrupt"
        )
    shape = tuple(tensor.dims)
    if tensor.data_type not in _PACKED_TYPES:
        dtype = np_dtype(tensor.data_type).newbyteorder("<")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if expected != length:
            raise InvalidGraph(
                f"tensor '{tensor.name}': external data holds {length} bytes, "
                f"but shape {list(shape)} of {dtype.name} needs {expected}"
            )
        if expected == 0:
            return np.zeros(shape, dtype)
        mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
        if offset % dtype.alignment == 0:
            return mapped
        # NumPy takes its slow, non-BLAS paths on misaligned arrays: copy such a tensor once
        copy = np.array(mapped)
        copy.flags.writeable = False
        return copy
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    inline = TensorProto()
    inline.CopyFrom(tensor)
    del inline.external_data[:]
    inline.data_location = TensorProto.DEFAULT
    inline.raw_data = raw
    try:
        return numpy_helper.to_array(inline)
    except Exception as exc:  # noqa: BLE001 - reported as a model error
        raise InvalidGraph(f"tensor '{tensor.name}': cannot decode external data ({exc})") from None
