"""Reading tensors whose bytes live in files beside the model, safely.

A location must be a relative path that stays inside the model's folder after
resolving symlinks; anything else is refused before a byte is read. The bytes are read
into memory the session owns (as onnxruntime does), never memory-mapped: a session must
not crash or change its results when the file is truncated or rewritten after loading.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, numpy_helper

from onyx.errors import InvalidGraph, NoSuchFile, UnsafeExternalData
from onyx.model.types import np_dtype

# Element types whose external bytes are not the plain little-endian array (decoded by onnx instead).
_PACKED_TYPES = {TensorProto.STRING, TensorProto.UINT4, TensorProto.INT4, TensorProto.FLOAT4E2M1}
for _name in ("UINT2", "INT2"):
    if hasattr(TensorProto, _name):
        _PACKED_TYPES.add(getattr(TensorProto, _name))


def _has_drive(location: str) -> bool:
    """On Windows a ':' names a drive ("C:x") or an alternate data stream; elsewhere it is an
    ordinary file-name character (a model named "run:3.onnx" must load)."""
    return os.name == "nt" and ":" in location


def resolve_location(location: str, base_dir: str | None, tensor_name: str) -> Path:
    """The file a tensor's external data lives in, refusing anything outside ``base_dir``."""
    if base_dir is None:
        raise InvalidGraph(
            f"tensor '{tensor_name}' stores its data in external file '{location}', but the model "
            "was not loaded from a path; load it from its file so onyx knows the folder to read from"
        )
    if "\0" in location:
        raise UnsafeExternalData(f"tensor '{tensor_name}': external data location {location!r} contains a NUL byte")
    if not location or os.path.isabs(location) or location.startswith(("/", "\\")) or _has_drive(location):
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
    """The array of a tensor whose data_location is EXTERNAL, read into memory it owns."""
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
        expected = math.prod(shape) * dtype.itemsize
        if expected != length:
            raise InvalidGraph(
                f"tensor '{tensor.name}': external data holds {length} bytes, "
                f"but shape {list(shape)} of {dtype.name} needs {expected}"
            )
        array = np.empty(shape, dtype)
        read_into(path, offset, memoryview(array.reshape(-1).view(np.uint8)), tensor.name)
        array.flags.writeable = False
        return array
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


def read_into(path: Path, offset: int, target: memoryview, tensor_name: str) -> None:
    """Fill ``target`` with the file's bytes from ``offset`` (no intermediate copy)."""
    done = 0
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while done < len(target):
            count = f.readinto(target[done:])
            if not count:
                raise InvalidGraph(
                    f"tensor '{tensor_name}': external data file '{path.name}' ended after {offset + done} bytes; "
                    "it is truncated or changed while loading"
                )
            done += count
