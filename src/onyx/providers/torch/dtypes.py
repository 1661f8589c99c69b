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


def to_tensor(value: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """A NumPy array as a tensor on ``device``; shares the array's memory on the CPU when it
    may (a writable, supported array), copies otherwise."""
    array = np.asarray(value)
    if not array.flags.writeable or array.dtype.byteorder not in "=|":
        array = np.array(array, dtype=array.dtype.newbyteorder("="))
    tensor = torch.from_numpy(array)
    return tensor if torch.device(device).type == "cpu" else tensor.to(device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor as a NumPy array (on the host; shares memory for CPU tensors)."""
    return tensor.detach().cpu().numpy()
