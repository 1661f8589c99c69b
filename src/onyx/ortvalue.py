"""OrtValue and OrtDevice: onnxruntime's value container, with its Python API.

An OrtValue holds what a session takes or gives: a tensor, a sparse tensor, a sequence, a map
or nothing (an absent optional). A tensor on the CPU is a NumPy array; a tensor on a CUDA device
("cuda", N) is a ``torch.Tensor`` there (onyx.devices; PyTorch imported only then), which
sessions with a Torch provider on that device read and write without copies through IOBinding.
Sparse tensors stay on the CPU (:func:`check_device`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np

from onyx import devices
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
    """The normalized name of ``device_type`` for a value that must live on the CPU (sparse tensors)."""
    name = _device_name(device_type)
    if name != "cpu":
        raise InvalidArgument(f"onyx keeps values on the CPU; device '{device_type}' (id {device_id}) is not available")
    return name


def placement(device_type: str, device_id: int = 0) -> Any:
    """Where a tensor asked for on (``device_type``, ``device_id``) goes: None for the CPU, else
    its torch device (DeviceUnavailable when this process cannot use it, as onnxruntime's CPU
    package refuses CUDA memory)."""
    if _device_name(device_type) == "cpu":
        return None
    return devices.torch_device(device_type, device_id)


class OrtDevice:
    """A device as onnxruntime names it (``OrtDevice.make("cpu", 0)``): a description, which any
    known device type may have; values are placed on the CPU or on CUDA (see placement)."""

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
    """A value a session takes or gives (onnxruntime.OrtValue). CPU tensors share their NumPy
    memory; CUDA tensors are torch tensors on that device (see the module's docstring)."""

    def __init__(self, value: Any, device: str = "cpu"):
        self._value = value
        self._device = device

    @staticmethod
    def _on_device(tensor: Any) -> OrtValue:
        """A torch tensor as a device value (named by the device it is on)."""
        return OrtValue(tensor, devices.device_of(tensor)[0])

    # -- construction ----------------------------------------------------------

    @staticmethod
    def ortvalue_from_numpy(numpy_obj: np.ndarray, /, device_type: str = "cpu", device_id: int = 0, vendor_id: int = -1) -> OrtValue:
        """Wrap ``numpy_obj`` (C-contiguous arrays are shared, not copied); on a device, copy it there."""
        target = placement(device_type, device_id)
        if not isinstance(numpy_obj, np.ndarray):
            raise InvalidArgument(f"ortvalue_from_numpy takes a NumPy array, not {type(numpy_obj).__name__}")
        array = np.ascontiguousarray(numpy_obj.view(np.ndarray))
        if target is None:
            return OrtValue(array)
        return OrtValue(devices.from_host(array, target), _device_name(device_type).replace("gpu", "cuda"))

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
        target = placement(device_type, device_id)
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims):
            raise InvalidArgument(f"shape {dims} has a negative dimension")
        dtype = _as_element_dtype(element_type)
        if target is None:
            return OrtValue(np.zeros(dims, dtype))
        import torch

        return OrtValue(torch.zeros(dims, dtype=devices.torch_dtype(dtype), device=target), "cuda")

    @staticmethod
    def ort_value_from_sparse_tensor(sparse_tensor: Any) -> OrtValue:
        return OrtValue(sparse_tensor)

    @staticmethod
    def from_dlpack(data: Any, is_bool_tensor: bool = False) -> OrtValue:
        """Wrap an object exporting ``__dlpack__`` (a torch tensor, a NumPy or CuPy array) or a
        DLPack capsule, sharing its memory: on the CPU as a NumPy array, on CUDA as a torch tensor."""
        if not hasattr(data, "__dlpack__"):
            try:  # a bare capsule says where it lives only once opened: NumPy refuses a device one
                return OrtValue.from_dlpack(_Capsule(data), is_bool_tensor)
            except BufferError:
                pass
        elif data.__dlpack_device__()[0] == 1:  # kDLCPU
            try:
                array = np.from_dlpack(data)
            except (BufferError, RuntimeError, TypeError):  # a type NumPy lacks (bfloat16): torch shares it
                if not devices.torch_available():
                    raise
                import torch

                array = devices.to_host(torch.from_dlpack(data))
            return OrtValue(array.view(np.bool_) if is_bool_tensor and array.dtype == np.uint8 else array)
        if not devices.torch_available():
            raise InvalidArgument("a DLPack tensor on an accelerator needs PyTorch (pip install 'onyx-runtime[torch]')")
        import torch

        return OrtValue._on_device(torch.from_dlpack(data))

    # -- inspection --------------------------------------------------------------

    def _tensor(self) -> Any:
        """The tensor: a NumPy array, or a torch tensor on a device."""
        if not (isinstance(self._value, np.ndarray) or devices.is_device_tensor(self._value)):
            raise InvalidArgument("Only OrtValues that are Tensors are convertible to Numpy objects")
        return self._value

    def _dtype(self) -> np.dtype:
        tensor = self._tensor()
        return tensor.dtype if isinstance(tensor, np.ndarray) else devices.numpy_dtype(tensor.dtype)

    def numpy(self) -> Any:
        """The tensor as a NumPy array: sharing this value's memory on the CPU, a copy of a device
        tensor (sequences and maps as they are)."""
        if isinstance(self._value, np.ndarray):
            return self._value.view()
        if devices.is_device_tensor(self._value):
            return devices.to_host(self._value)
        if self._value is None or self.is_sparse_tensor():
            self._tensor()
        return self._value

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(value)``: the tensor as NumPy sees it (a copy where ``copy`` or a device asks)."""
        array = self.numpy()
        if copy:
            return np.array(array, dtype=dtype, copy=True)
        return array if dtype is None else np.asarray(array, dtype=dtype)

    def __dlpack__(self, *, stream: Any = None, **kwargs: Any) -> Any:
        """A DLPack capsule sharing this tensor's memory (``torch.from_dlpack(value)`` takes it)."""
        return self._tensor().__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """DLPack's (device type, id): (1, 0) on the CPU, (2, N) on CUDA device N."""
        return self._tensor().__dlpack_device__()

    def to_dlpack(self) -> Any:
        """The tensor as a DLPack capsule (onnxruntime's older name for ``__dlpack__``)."""
        return self.__dlpack__()

    def shape(self) -> list[int]:
        if self.is_sparse_tensor():
            return self._value.dense_shape()
        return list(self._tensor().shape)

    def data_type(self) -> str:
        """onnxruntime's type string: 'tensor(float)', 'sparse_tensor(int64)', 'seq(tensor(float))'."""
        if self.is_tensor():
            return f"tensor({elem_type_name(elem_type_of(self._dtype()))})"
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
        return elem_type_of(self._dtype())

    def device_name(self) -> str:
        """Where the tensor lives: "cpu" or "cuda"."""
        return self._device

    def data_ptr(self) -> int:
        tensor = self._tensor()
        return tensor.ctypes.data if isinstance(tensor, np.ndarray) else tensor.data_ptr()

    def tensor_size_in_bytes(self) -> int:
        tensor = self._tensor()
        return tensor.nbytes if isinstance(tensor, np.ndarray) else tensor.numel() * tensor.element_size()

    def has_value(self) -> bool:
        return self._value is not None

    def is_tensor(self) -> bool:
        return isinstance(self._value, np.ndarray) or devices.is_device_tensor(self._value)

    def is_sparse_tensor(self) -> bool:
        from onyx.sparse import SparseTensor

        return isinstance(self._value, SparseTensor)

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def as_sparse_tensor(self) -> Any:
        if not self.is_sparse_tensor():
            raise InvalidArgument("This OrtValue does not contain SparseTensor. Check data_type() value.")
        return self._value

    def update_inplace(self, data: Any) -> None:
        """Copy ``data`` (a NumPy array or an OrtValue with as many elements) into this tensor's
        memory, on its device; its address does not change."""
        target = self._tensor()
        if isinstance(data, OrtValue) and devices.is_device_tensor(data._value):
            source: Any = data._value
        else:
            source = np.asarray(data.numpy() if isinstance(data, OrtValue) else data)
        size = source.size if isinstance(source, np.ndarray) else source.numel()
        if size != (target.size if isinstance(target, np.ndarray) else target.numel()):
            raise InvalidArgument("The input size of numpy arrays does not match the size of the OrtValue.")
        if isinstance(target, np.ndarray):
            host = source if isinstance(source, np.ndarray) else devices.to_host(source)
            np.copyto(target, host.reshape(target.shape), casting="unsafe")
        elif isinstance(source, np.ndarray):
            target.copy_(devices.from_host(source.astype(self._dtype(), copy=False), target.device).reshape(target.shape))
        else:
            target.copy_(source.reshape(target.shape))

    def __repr__(self) -> str:
        return f"<onyx.OrtValue {self.data_type()} on {self._device}>"


class _Capsule:
    """A bare DLPack capsule as NumPy's from_dlpack takes it (an object with ``__dlpack__``)."""

    def __init__(self, capsule: Any):
        self._capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)
