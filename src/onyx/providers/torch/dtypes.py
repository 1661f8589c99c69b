"""NumPy values <-> torch tensors, and NumPy dtypes as torch dtypes."""

from __future__ import annotations

import numpy as np
import torch

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
