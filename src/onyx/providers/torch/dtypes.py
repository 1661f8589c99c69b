"""NumPy values <-> torch tensors, and ONNX element types as torch dtypes."""

from __future__ import annotations

import numpy as np
import torch
from onnx import TensorProto

# ONNX element type -> torch dtype, for the types the converters handle
TORCH_DTYPES: dict[int, torch.dtype] = {
    TensorProto.BOOL: torch.bool,
    TensorProto.UINT8: torch.uint8,
    TensorProto.INT8: torch.int8,
    TensorProto.INT16: torch.int16,
    TensorProto.INT32: torch.int32,
    TensorProto.INT64: torch.int64,
    TensorProto.FLOAT16: torch.float16,
    TensorProto.FLOAT: torch.float32,
    TensorProto.DOUBLE: torch.float64,
}


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    """The torch dtype holding values of NumPy ``dtype``."""
    return _BY_NUMPY[np.dtype(dtype)]


_BY_NUMPY = {np.dtype(np.bool_): torch.bool, np.dtype(np.uint8): torch.uint8, np.dtype(np.int8): torch.int8,
             np.dtype(np.int16): torch.int16, np.dtype(np.int32): torch.int32, np.dtype(np.int64): torch.int64,
             np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
             np.dtype(np.float64): torch.float64}


def to_tensor(value: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """A copy of a NumPy array as a tensor on ``device``. A copy, so that neither side's
    in-place work (onyx's CPU kernels may reuse a dead input's buffer) reaches the other."""
    array = np.array(value, dtype=np.asarray(value).dtype.newbyteorder("="), copy=True)
    return torch.from_numpy(array).to(device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor as a NumPy array of its own (on the host)."""
    tensor = tensor.detach()
    if tensor.device.type != "cpu":
        return tensor.cpu().numpy()
    return np.array(tensor.numpy(), copy=True)
