"""Where a value lives: the host (NumPy arrays) or a PyTorch device (torch tensors).

onnxruntime names devices by a type and an id ("cuda", 0). onyx keeps host values as NumPy
arrays and values on an accelerator as ``torch.Tensor`` (PyTorch is the optional ``[torch]``
extra). torch is imported only when a device value is asked for, so ``import onyx`` and every
host path stay free of it.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

from onyx.errors import DeviceUnavailable

HOST_DEVICE = "cpu"
_ACCELERATORS = {"cuda": "cuda", "gpu": "cuda"}  # onnxruntime's device names torch runs


def is_device_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch when nothing did)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def torch_available() -> bool:
    """Whether PyTorch is installed (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def cuda_usable() -> bool:
    """Whether PyTorch is installed and sees a CUDA GPU (imports torch when it is installed)."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def torch_device(device_type: str, device_id: int = 0) -> Any:
    """The ``torch.device`` of onnxruntime's ("cuda", N); DeviceUnavailable where it cannot be used."""
    kind = _ACCELERATORS.get(str(device_type).lower())
    if kind is None:
        raise DeviceUnavailable(f"onyx places values on the CPU or on CUDA through PyTorch, not on '{device_type}'")
    if not torch_available():
        raise DeviceUnavailable(
            f"Can't allocate memory on the CUDA device (id {device_id}): PyTorch is not installed "
            "(pip install 'onyx-runtime[torch]' with a CUDA build of torch)"
        )
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not 0 <= int(device_id) < count:
        raise DeviceUnavailable(
            f"Can't allocate memory on the CUDA device (id {device_id}): PyTorch {torch.__version__} sees "
            f"{count} usable CUDA device(s)"
        )
    return torch.device(kind, int(device_id))


def device_of(tensor: Any) -> tuple[str, int]:
    """onnxruntime's (device type, id) of a torch tensor: ("cuda", 0), ("cpu", 0)."""
    device = tensor.device
    return device.type, device.index or 0


def _bfloat16() -> np.dtype:
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def numpy_dtype(torch_dtype: Any) -> np.dtype:
    """The NumPy dtype of a torch dtype (bfloat16 as ml_dtypes.bfloat16)."""
    import torch

    if torch_dtype == torch.bfloat16:
        return _bfloat16()
    return np.dtype(torch.empty((), dtype=torch_dtype).numpy().dtype)


def torch_dtype(dtype: np.dtype) -> Any:
    """The torch dtype of a NumPy dtype (ml_dtypes.bfloat16 as torch.bfloat16)."""
    import torch

    dtype = np.dtype(dtype)
    if dtype == _bfloat16():
        return torch.bfloat16
    return torch.from_numpy(np.empty(0, dtype)).dtype


def to_host(tensor: Any) -> np.ndarray:
    """A torch tensor as a NumPy array: shared when it is on the CPU, else copied there."""
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(_bfloat16())
    return tensor.numpy()


def from_host(array: np.ndarray, device: Any) -> Any:
    """A NumPy array copied to the torch ``device``."""
    import torch

    array = np.ascontiguousarray(array)
    if array.dtype == _bfloat16():
        return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16).to(device)
    return torch.from_numpy(array).to(device)


def placed_result(value: Any, target: Any, dtype: np.dtype | None, fed: list[int]) -> Any:
    """An output as IOBinding gives it: on the torch device ``target`` (None: the host), of the
    declared ``dtype``, and never the very tensor of a feed (ids in ``fed``)."""
    if target is None:
        return to_host(value) if is_device_tensor(value) else value
    if isinstance(value, np.ndarray):
        return from_host(value, target)
    if not is_device_tensor(value):
        return value
    if dtype is not None and dtype != np.dtype(object) and numpy_dtype(value.dtype) != dtype:
        value = value.to(torch_dtype(dtype))
    if value.device != target:
        return value.to(target)
    return value.clone() if id(value) in fed else value
