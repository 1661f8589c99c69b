"""OrtValue and OrtDevice: onnxruntime's value container, with its Python API.

An OrtValue holds what a session takes or gives: a tensor (a NumPy array), a sparse tensor,
a sequence, a map or nothing (an absent optional). onyx runs on the CPU, so every OrtValue
lives there; :func:`check_device` is the one place that decides which devices a value may
live on (the seam an accelerator provider extends).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument
from onyx.model.types import elem_type_name, elem_type_of, np_dtype

class OrtMemType(IntEnum):
    CPU_INPUT = -2
    CPU_OUTPUT = -1
    CPU = -1
    DEFAULT = 0


class OrtAllocatorType(IntEnum):
    INVALID = -1
    ORT_DEVICE_ALLOCATOR = 0
    ORT_ARENA_ALLOCATOR = 1


_DEVICE_TYPES = {"cpu": 0, "gpu": 1, "cuda": 1, "fpga": 2, "npu": 3, "dml": 4, "webgpu": 5, "cann": 6}


def device_type_name(code: int) -> str:
    """The device name of onnxruntime's numeric device type (0: "cpu")."""
    for name, number in _DEVICE_TYPES.items():
        if number == code:
            return name
    raise InvalidArgument(f"Unsupported device type: {code}")


def _device_name(device_type: str) -> str:
    name = str(device_type).lower()
    if name not in _DEVICE_TYPES:
        raise InvalidArgument(f"Unsupported device type: {device_type}")
    return name


def check_device(device_type: str, device_id: int = 0) -> str:
    """The normalized device name for a value placed on ``device_type``; only "cpu" today."""
    name = _device_name(device_type)
    if name != "cpu":
        raise InvalidArgument(f"onyx keeps values on the CPU; device '{device_type}' (id {device_id}) is not available")
    return name


class OrtDevice:
    """A device as onnxruntime names it (``OrtDevice.make("cpu", 0)``): a description, which any
    known device type may have; values are placed on the CPU only (see check_device)."""

    def __init__(self, device_type: str = "cpu", device_id: int = 0, vendor_id: int = 0, mem_type: int = 0):
        self._type = _device_name(device_type)
        self._id = int(device_id)
        self._vendor_id = int(vendor_id)
        self._mem_type = int(mem_type)

    @staticmethod
    def make(ort_device_name: str, device_id: int, vendor_id: int = -1) -> OrtDevice:
        return OrtDevice(ort_device_name, device_id, max(vendor_id, 0))

    def device_id(self) -> int:
        return self._id

    def device_type(self) -> int:
        """onnxruntime's numeric device type: 0 for the CPU."""
        return _DEVICE_TYPES[self._type]

    def device_vendor_id(self) -> int:
        return self._vendor_id

    def device_mem_type(self) -> int:
        return self._mem_type

    def __repr__(self) -> str:
        return f"OrtDevice('{self._type}', {self._id})"


def _as_element_dtype(element_type: Any) -> np.dtype:
    """NumPy dtype of an element type given as an ONNX TensorProto code or a NumPy type."""
    if isinstance(element_type, (int, np.integer)) and not isinstance(element_type, bool):
        try:
            return np_dtype(int(element_type))
        except (KeyError, ValueError, TypeError):
            raise InvalidArgument(f"unknown ONNX element type {element_type}") from None
    try:
        return np.dtype(element_type)
    except TypeError:
        raise InvalidArgument(f"element type must be a NumPy type or an ONNX element type, not {element_type!r}") from None


class OrtValue:
    """A value a session takes or gives (onnxruntime.OrtValue): tensors share their NumPy memory."""

    def __init__(self, value: Any, device: str = "cpu"):
        self._value = value
        self._device = device

    # -- construction ----------------------------------------------------------

    @staticmethod
    def ortvalue_from_numpy(numpy_obj: np.ndarray, /, device_type: str = "cpu", device_id: int = 0, vendor_id: int = -1) -> OrtValue:
        """Wrap ``numpy_obj`` (C-contiguous arrays are shared, not copied)."""
        device = check_device(device_type, device_id)
        if not isinstance(numpy_obj, np.ndarray):
            raise InvalidArgument(f"ortvalue_from_numpy takes a NumPy array, not {type(numpy_obj).__name__}")
        return OrtValue(np.ascontiguousarray(numpy_obj.view(np.ndarray)), device)

    @staticmethod
    def ortvalue_from_numpy_with_onnx_type(data: np.ndarray, /, onnx_element_type: int) -> OrtValue:
        """Wrap ``data``'s bytes as ``onnx_element_type`` (same item size), e.g. uint16 as bfloat16."""
        dtype = _as_element_dtype(onnx_element_type)
        data = np.ascontiguousarray(data)
        if data.dtype.itemsize != dtype.itemsize:
            raise InvalidArgument(
                f"items of {data.dtype} are {data.dtype.itemsize} bytes, {elem_type_name(int(onnx_element_type))} "
                f"takes {dtype.itemsize}"
            )
        return OrtValue(data.view(dtype))

    @staticmethod
    def ortvalue_from_shape_and_type(
        shape: Sequence[int], element_type: Any, device_type: str = "cpu", device_id: int = 0, vendor_id: int = -1, memory_info: Any = None
    ) -> OrtValue:
        """A new zero-filled tensor of ``shape`` and ``element_type`` (NumPy type or ONNX code)."""
        device = check_device(device_type, device_id)
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims):
            raise InvalidArgument(f"shape {dims} has a negative dimension")
        return OrtValue(np.zeros(dims, _as_element_dtype(element_type)), device)

    @staticmethod
    def ort_value_from_sparse_tensor(sparse_tensor: Any) -> OrtValue:
        return OrtValue(sparse_tensor)

    @staticmethod
    def from_dlpack(data: Any, is_bool_tensor: bool = False) -> OrtValue:
        """Wrap an object exporting ``__dlpack__`` (shares its memory)."""
        array = np.from_dlpack(data)
        return OrtValue(array.view(np.bool_) if is_bool_tensor and array.dtype == np.uint8 else array)

    # -- inspection --------------------------------------------------------------

    def _tensor(self) -> np.ndarray:
        if not isinstance(self._value, np.ndarray):
            raise InvalidArgument("Only OrtValues that are Tensors are convertible to Numpy objects")
        return self._value

    def numpy(self) -> Any:
        """The tensor as a NumPy array sharing this value's memory (sequences and maps as they are)."""
        if isinstance(self._value, np.ndarray):
            return self._value.view()
        if self._value is None or self.is_sparse_tensor():
            self._tensor()
        return self._value

    def shape(self) -> list[int]:
        if self.is_sparse_tensor():
            return self._value.dense_shape()
        return list(self._tensor().shape)

    def data_type(self) -> str:
        """onnxruntime's type string: 'tensor(float)', 'sparse_tensor(int64)', 'seq(tensor(float))'."""
        if isinstance(self._value, np.ndarray):
            return f"tensor({elem_type_name(elem_type_of(self._value.dtype))})"
        if self.is_sparse_tensor():
            return self._value.data_type()
        if isinstance(self._value, list):
            inner = OrtValue(self._value[0]).data_type() if self._value else "tensor(float)"
            return f"seq({inner})"
        if isinstance(self._value, dict):
            return "map"
        return "optional"

    def element_type(self) -> int:
        """The ONNX element type code of the tensor (1 for float)."""
        return elem_type_of(self._tensor().dtype)

    def device_name(self) -> str:
        return self._device

    def data_ptr(self) -> int:
        return self._tensor().ctypes.data

    def tensor_size_in_bytes(self) -> int:
        return self._tensor().nbytes

    def has_value(self) -> bool:
        return self._value is not None

    def is_tensor(self) -> bool:
        return isinstance(self._value, np.ndarray)

    def is_sparse_tensor(self) -> bool:
        from onyx.sparse import SparseTensor

        return isinstance(self._value, SparseTensor)

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def as_sparse_tensor(self) -> Any:
        if not self.is_sparse_tensor():
            raise InvalidArgument("This OrtValue does not contain SparseTensor. Check data_type() value.")
        return self._value

    def update_inplace(self, np_arr: np.ndarray) -> None:
        """Copy ``np_arr`` (same number of elements) into this tensor's memory."""
        target = self._tensor()
        source = np.asarray(np_arr)
        if source.size != target.size:
            raise InvalidArgument("The input size of numpy arrays does not match the size of the OrtValue.")
        np.copyto(target, source.reshape(target.shape), casting="unsafe")

    def __repr__(self) -> str:
        return f"<onyx.OrtValue {self.data_type()} on {self._device}>"
