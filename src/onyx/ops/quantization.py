"""Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
MatMulInteger and QLinearMatMul.

Quantized types are NumPy integers (uint8/int8/uint16/int16) or ml_dtypes types
(int4/uint4/int2/uint2, the float8 variants, float4e2m1).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx.helper import tensor_dtype_to_np_dtype

from onyx.ops.integer_gemm import as_int32, integer_matmul, row_param
from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis

_INTEGER_QTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.uint8, np.int8, np.uint16, np.int16,
        ml_dtypes.uint4, ml_dtypes.int4, ml_dtypes.uint2, ml_dtypes.int2,
    )
)
_FLOAT8_QTYPES = frozenset(
    np.dtype(t)
    for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz)
)
_FLOAT4_QTYPES = frozenset({np.dtype(ml_dtypes.float4_e2m1fn)})
# Types NumPy divides natively; other scale types (float8e8m0) divide in float32.
_DIVISION_TYPES = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64, ml_dtypes.bfloat16))


def _onnx_dtype(code: int) -> np.dtype:
    return np.dtype(tensor_dtype_to_np_dtype(code))


def expand_param(param: np.ndarray, x_shape: tuple[int, ...], axis: int, block_size: int) -> np.ndarray:
    """A scale or zero point reshaped (per-axis) or repeated (blocked) so it broadcasts against x."""
    if param.size == 1 and block_size <= 0:
        return param.reshape(())
    rank = len(x_shape)
    axis = normalize_axis(axis, rank)
    if block_size <= 0:
        if param.ndim != 1 or param.shape[0] != x_shape[axis]:
            raise ValueError(
                f"per-axis scale/zero point of shape {param.shape} does not match axis {axis} of input {x_shape}"
            )
        shape = [1] * rank
        shape[axis] = -1
        return param.reshape(shape)
    expected = tuple(-(-d // block_size) if i == axis else d for i, d in enumerate(x_shape))
    if param.shape != expected:
        raise ValueError(
            f"blocked scale/zero point has shape {param.shape}; input {x_shape} with axis {axis} and "
            f"block_size {block_size} needs {expected}"
        )
    repeated = np.repeat(param, block_size, axis=axis)
    return repeated[(slice(None),) * axis + (slice(0, x_shape[axis]),)]


def to_quantized(v: np.ndarray, zero_point: np.ndarray | None, qtype: np.dtype, saturate: int = 1) -> np.ndarray:
    """``saturate(round(v) + zero_point)`` as ``qtype``.

    ``v`` is x / scale, a temporary this may overwrite; the zero point already broadcasts against it.
    """
    work = np.float64 if v.dtype == np.float64 else np.float32
    q = np.asarray(v, dtype=work)
    if qtype in _INTEGER_QTYPES:
        np.rint(q, out=q)
        if zero_point is not None:
            q += zero_point.astype(work)
        info = ml_dtypes.iinfo(qtype)
        np.clip(q, info.min, info.max, out=q)
        return q.astype(qtype)
    if qtype in _FLOAT8_QTYPES or qtype in _FLOAT4_QTYPES:
        if zero_point is not None and zero_point.any():  # adding +0 would turn -0 into +0
            q += zero_point.astype(work)
        if saturate or qtype in _FLOAT4_QTYPES:
            limit = float(ml_dtypes.finfo(qtype).max)
            np.clip(q, -limit, limit, out=q)
        return q.astype(qtype)
    raise TypeError(f"unsupported quantized type {qtype}")


@kernel("QuantizeLinear", since=(10, 13, 19, 21, 23))
def quantize_linear(x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, saturate=1, precision=0):
    """y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor, axis or block."""
    if output_dtype:
        qtype = _onnx_dtype(output_dtype)
        if y_zero_point is not None and y_zero_point.dtype != qtype:
            raise TypeError(f"output_dtype {qtype} differs from y_zero_point's type {y_zero_point.dtype}")
    else:
        qtype = y_zero_point.dtype if y_zero_point is not None else np.dtype(np.uint8)
    if precision:
        compute = _onnx_dtype(precision)
    else:
        compute = y_scale.dtype if y_scale.dtype in _DIVISION_TYPES else np.dtype(np.float32)
    scale = expand_param(y_scale, x.shape, axis, block_size).astype(compute)
    v = x.astype(compute, copy=False) / scale
    zp = None if y_zero_point is None else expand_param(y_zero_point, x.shape, axis, block_size)
    return to_quantized(v, zp, qtype, saturate)


@kernel("DequantizeLinear", since=(10, 13, 21, 23))
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    """y = (x - x_zero_point) * x_scale, computed in float32 (float64 for a float64 output)."""
    out = _onnx_dtype(output_dtype) if output_dtype else x_scale.dtype
    work = np.float64 if out == np.float64 else np.float32
    y = x.astype(work)
    if x_zero_point is not None:
        y -= expand_param(x_zero_point, x.shape, axis, block_size).astype(work)
    y *= expand_param(x_scale, x.shape, axis, block_size).astype(work)
    return y.astype(out, copy=False)


@kernel("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x):
    """uint8 quantization of x with a scale and zero point from its range (widened to include 0)."""
    x = x.astype(np.float32, copy=False)
    zero = np.float32(0)
    x_min = np.minimum(zero, x.min()) if x.size else zero
    x_max = np.maximum(zero, x.max()) if x.size else zero
    scale = np.float32((x_max - x_min) / np.float32(255))
    if scale == 0:
        return np.zeros(x.shape, np.uint8), np.array(scale), np.array(0, np.uint8)
    zero_point = np.clip(np.rint(-x_min / scale), 0, 255).astype(np.uint8)
    y = to_quantized(x / scale, zero_point, np.dtype(np.uint8))
    return y, np.array(scale), np.array(zero_point)


@kernel("MatMulInteger", since=10)
def matmul_integer(A, B, a_zero_point=None, b_zero_point=None):
    """int32 matmul of (A - a_zero_point) and (B - b_zero_point); zero points per tensor, A row or B column."""
    return as_int32(integer_matmul(A, B, a_zero_point, b_zero_point, a_per_row=True))


@kernel("QLinearMatMul", since=10)
def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """Quantized matmul: requantize (a - a_zp) @ (b - b_zp) with a_scale * b_scale / y_scale."""
    acc = integer_matmul(a, b, a_zero_point, b_zero_point, a_per_row=True)
    multiplier = (
        row_param(a_scale, a).astype(np.float64) * b_scale.astype(np.float64) / y_scale.astype(np.float64)
    )
    zero_point = y_zero_point.reshape(()) if y_zero_point.size == 1 else y_zero_point
    return to_quantized((acc * multiplier).astype(np.float32), zero_point, y_zero_point.dtype)
