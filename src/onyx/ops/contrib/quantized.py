"""Quantized contrib operators: integer/N-bit matmuls and the QLinear* elementwise, concat and pooling ops."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.ops.integer_gemm import integer_matmul
from onyx.ops.quantization import dequantize_linear as standard_dequantize_linear
from onyx.ops.quantization import dynamic_quantize_linear
from onyx.ops.quantization import quantize_linear as standard_quantize_linear
from onyx.ops.registry import kernel

MS = "com.microsoft"


def int_range(dtype: np.dtype) -> tuple[int, int]:
    """(min, max) of an integer dtype, ml_dtypes' int4/uint4 included."""
    info = ml_dtypes.iinfo(dtype) if np.dtype(dtype).kind == "V" else np.iinfo(dtype)
    return int(info.min), int(info.max)


def quantize(x: np.ndarray, scale, zero_point, dtype: np.dtype) -> np.ndarray:
    """saturate(round_half_even(x / scale) + zero_point) as ``dtype``; scale and zero point broadcast."""
    lo, hi = int_range(dtype)
    return np.clip(np.rint(x / scale) + zero_point, lo, hi).astype(dtype)


def _zp(zero_point) -> np.ndarray:
    """A zero point as a float32 array (0 when absent)."""
    return np.float32(0) if zero_point is None else np.asarray(zero_point, dtype=np.float32)


def _scalar(x) -> np.float32:
    """The single value of a scalar (or one-element) quantization parameter."""
    return np.float32(np.asarray(x).reshape(-1)[0])


# -- integer matmuls -----------------------------------------------------------------------------


def _integer_matmul(a, b, a_zero_point, b_zero_point) -> np.ndarray:
    """(a - a_zp) @ (b - b_zp), exact (onyx.ops.integer_gemm), as float32 or float64; zero points
    per tensor, or per column of b."""
    return integer_matmul(a, b, a_zero_point, b_zero_point, a_per_row=False)


@kernel("MatMulIntegerToFloat", since=1, domain=MS)
def matmul_integer_to_float(a, b, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None):
    """(A - a_zp) @ (B - b_zp) * a_scale * b_scale + bias, in the scales' float type."""
    y = _integer_matmul(a, b, a_zero_point, b_zero_point).astype(np.float32, copy=False)
    y *= a_scale.astype(np.float32) * b_scale.astype(np.float32)
    if bias is not None:
        y += bias
    return y.astype(a_scale.dtype, copy=False)


@kernel("DynamicQuantizeMatMul", since=1, domain=MS)
def dynamic_quantize_matmul(a, b, b_scale, b_zero_point=None, bias=None):
    """A quantized to uint8 on the fly (per tensor), then MatMulIntegerToFloat with B."""
    qa, a_scale, a_zp = dynamic_quantize_linear(a)
    y = _integer_matmul(qa, b, a_zp, b_zero_point).astype(np.float32, copy=False)
    y *= a_scale * b_scale.astype(np.float32)
    if bias is not None:
        y += bias
    return y


@kernel("QGemm", since=1, domain=MS)
def qgemm(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c=None, y_scale=None, y_zero_point=None, *,
          alpha=1.0, transA=0, transB=0):
    """alpha * a_scale * b_scale * ((A' - a_zp) @ (B' - b_zp) + C), C an int32 bias in that scale;
    float, or requantized to y_scale and y_zero_point when y_scale is given. b's scale and zero
    point per tensor or per column (per row of B when transB)."""
    a = a.T if transA else a
    b_zp = None if b_zero_point is None else np.asarray(b_zero_point).reshape(-1)
    b = b.T if transB else b
    acc = integer_matmul(a, b, a_zero_point, b_zp if b_zp is None or b_zp.size > 1 else b_zp.reshape(()),
                         a_per_row=False).astype(np.float64)
    if c is not None:
        acc += c
    scale = np.float32(alpha) * _scalar(a_scale) * np.asarray(b_scale, dtype=np.float32).reshape(-1)
    if y_scale is None:
        return (acc * scale.reshape(-1 if scale.size > 1 else ())).astype(np.float32)
    multiplier = (scale / _scalar(y_scale)).astype(np.float32)
    y = acc * multiplier.reshape(-1 if multiplier.size > 1 else ())
    return quantize(y, np.float32(1), _zp(y_zero_point), np.dtype(np.uint8) if y_zero_point is None else y_zero_point.dtype)


def unpack_bits(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 bytes holding 8/bits values each, low bits first, as one uint8 value per element."""
    if bits not in (2, 4, 8):
        raise ValueError(f"bits must be 2, 4 or 8, not {bits}")
    if bits == 8:
        return packed
    shifts = np.arange(0, 8, bits, dtype=np.uint8)
    values = (packed[..., None] >> shifts) & np.uint8((1 << bits) - 1)
    return values.reshape(packed.shape[:-1] + (-1,))


@kernel("MatMulNBits", since=1, domain=MS)
def matmul_nbits(
    a,
    b,
    scales,
    zero_points=None,
    g_idx=None,
    bias=None,
    *,
    K=None,
    N=None,
    bits=4,
    block_size=None,
    accuracy_level=0,
    weight_prepacked=0,
):
    """A @ dequantize(B)^T + bias, B holding N rows of K ``bits``-bit values quantized in blocks along K."""
    if K is None or N is None or block_size is None:
        raise ValueError("MatMulNBits requires the K, N and block_size attributes")
    if weight_prepacked:
        raise ValueError("MatMulNBits: prepacked (execution-provider specific) weights are not supported")
    out_shape = a.shape[:-1] + (N,)
    if b.size == 0:  # an omitted projection
        y = np.zeros(out_shape, dtype=a.dtype)
        return y + bias if bias is not None else y
    k_blocks = -(-K // block_size)
    q = unpack_bits(b, bits).reshape(N, k_blocks * block_size)[:, :K].astype(np.float32)
    scales = scales.reshape(N, k_blocks).astype(np.float32)
    if zero_points is None:
        zp = np.full((N, k_blocks), 1 << (bits - 1), dtype=np.float32)
    elif zero_points.dtype == np.uint8:
        zp = unpack_bits(zero_points.reshape(N, -1), bits)[:, :k_blocks].astype(np.float32)
    else:
        zp = zero_points.reshape(N, k_blocks).astype(np.float32)
    block_of_row = np.arange(K) // block_size if g_idx is None else np.asarray(g_idx, dtype=np.int64)
    weight = (q - zp[:, block_of_row]) * scales[:, block_of_row]
    y = np.matmul(a.astype(np.float32, copy=False), weight.T)
    if bias is not None:
        y += bias
    return y.astype(a.dtype, copy=False)


# -- QLinear elementwise, concat and pooling ------------------------------------------------------


def _dequantize(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """(x - zero_point) * scale in float32."""
    return (x.astype(np.float32) - _zp(zero_point)) * _scalar(scale)


def _requantize(y: np.ndarray, scale, zero_point, dtype: np.dtype) -> np.ndarray:
    return quantize(y, _scalar(scale), _zp(zero_point), dtype)


def _exact(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """(x - zero_point) * scale in float64: exact for 8-bit codes and float32 scales, so the
    binary ops below round their true result (onnxruntime's float32 steps can be a code off)."""
    return (x.astype(np.float64) - _zp(zero_point)) * np.float64(_scalar(scale))


@kernel("QLinearAdd", since=1, domain=MS)
def qlinear_add(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point=None):
    total = _exact(a, a_scale, a_zero_point) + _exact(b, b_scale, b_zero_point)
    return _requantize(total, c_scale, c_zero_point, a.dtype)


@kernel("QLinearMul", since=1, domain=MS)
def qlinear_mul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point=None):
    product = _exact(a, a_scale, a_zero_point) * _exact(b, b_scale, b_zero_point)
    return _requantize(product, c_scale, c_zero_point, a.dtype)


def _lookup(x: np.ndarray, fn, x_scale, x_zero_point, y_scale, y_zero_point) -> np.ndarray:
    """Apply fn to the dequantized values through a 256-entry table (one entry per 8-bit code)."""
    lo, hi = int_range(x.dtype)
    codes = np.arange(lo, hi + 1).astype(x.dtype)
    table = _requantize(fn(_dequantize(codes, x_scale, x_zero_point)), y_scale, y_zero_point, x.dtype)
    return table[x.astype(np.int16) - lo]


@kernel("QLinearSigmoid", since=1, domain=MS)
def qlinear_sigmoid(x, x_scale, x_zero_point=None, y_scale=None, y_zero_point=None):
    return _lookup(x, lambda v: 1.0 / (1.0 + np.exp(-v)), x_scale, x_zero_point, y_scale, y_zero_point)


@kernel("QLinearLeakyRelu", since=1, domain=MS)
def qlinear_leaky_relu(x, x_scale, x_zero_point=None, y_scale=None, y_zero_point=None, *, alpha=0.01):
    alpha = np.float32(alpha)
    return _lookup(x, lambda v: np.where(v < 0, v * alpha, v), x_scale, x_zero_point, y_scale, y_zero_point)


@kernel("QLinearConcat", since=1, domain=MS)
def qlinear_concat(y_scale, y_zero_point, *inputs, axis=None):
    """Concatenate (tensor, scale, zero point) triples, each requantized to Y's scale and zero point."""
    if axis is None or len(inputs) % 3 or not inputs:
        raise ValueError("QLinearConcat needs the axis attribute and (tensor, scale, zero point) triples")
    parts = []
    for x, scale, zero_point in zip(inputs[0::3], inputs[1::3], inputs[2::3]):
        if _scalar(scale) == _scalar(y_scale) and _zp(zero_point) == _zp(y_zero_point):
            parts.append(x)
        else:
            parts.append(_requantize(_dequantize(x, scale, zero_point), y_scale, y_zero_point, y_zero_point.dtype))
    return np.concatenate(parts, axis=axis)


@kernel("QLinearGlobalAveragePool", since=1, domain=MS)
def qlinear_global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, *, channels_last=0):
    """Mean over the spatial dims (all but N and C) of the dequantized input, requantized."""
    spatial = tuple(range(1, x.ndim - 1)) if channels_last else tuple(range(2, x.ndim))
    mean = np.mean(x.astype(np.float32), axis=spatial, keepdims=True)
    scaled = (mean - _zp(x_zero_point)) * _scalar(x_scale)
    return _requantize(scaled, y_scale, y_zero_point, x.dtype)


# -- QuantizeLinear / DequantizeLinear (contrib forms) --------------------------------------------


@kernel("QuantizeLinear", since=1, domain=MS)
def quantize_linear(x, y_scale, y_zero_point=None, *, axis=1):
    """The standard QuantizeLinear (per tensor or per axis); uint8 when no zero point is given."""
    return standard_quantize_linear(x, y_scale, y_zero_point, axis=axis)


@kernel("DequantizeLinear", since=1, domain=MS)
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1):
    """The standard DequantizeLinear (per tensor or per axis), in the scale's float type."""
    return standard_dequantize_linear(x, x_scale, x_zero_point, axis=axis)


# -- GatherBlockQuantized -------------------------------------------------------------------------


def _gather_values(data: np.ndarray, zero_points, scales: np.ndarray, bits: int):
    """(integer/float values, zero points or None) of the quantized table, unpacked to one value per element."""
    if data.dtype == np.uint8:
        values = unpack_bits(data, bits)
        if zero_points is None:
            return values, np.float32(1 << (bits - 1))
        zp = unpack_bits(zero_points, bits)[..., : scales.shape[-1]]
        return values, zp.astype(np.float32)
    if data.dtype.kind == "V" and data.dtype.name in ("int4", "uint4"):
        zp = np.float32(0) if zero_points is None else zero_points.astype(np.float32)
        return data, zp
    if zero_points is not None:
        raise ValueError(f"GatherBlockQuantized takes no zero_points for {data.dtype} data")
    return data, None


def _take(x, indices: np.ndarray, axis: int) -> np.ndarray:
    """np.take along ``axis``, or a broadcast view of a size-1 dim (a parameter shared along that axis)."""
    if isinstance(x, np.ndarray) and x.ndim and x.shape[axis] == 1:
        return np.expand_dims(np.take(x, 0, axis=axis), tuple(range(axis, axis + indices.ndim)))
    return np.take(x, indices, axis=axis) if isinstance(x, np.ndarray) and x.ndim else x


@kernel("GatherBlockQuantized", since=1, domain=MS)
def gather_block_quantized(
    data, indices, scales, zero_points=None, *, bits=4, block_size=128, gather_axis=0, quantize_axis=1
):
    """Gather rows of a block-quantized table, then dequantize them: (q - zero_point) * scale.

    Indices outside [-s, s) give zero slices."""
    values, zp = _gather_values(data, zero_points, scales, bits)
    rank = values.ndim
    gather_axis = gather_axis + rank if gather_axis < 0 else gather_axis
    quantize_axis = quantize_axis + rank if quantize_axis < 0 else quantize_axis
    size = values.shape[gather_axis]
    block = block_size or values.shape[quantize_axis]
    indices = np.asarray(indices, dtype=np.int64)
    valid = (indices >= -size) & (indices < size)
    indices = np.where(valid, np.where(indices < 0, indices + size, indices), 0)
    q = np.take(values, indices, axis=gather_axis).astype(np.float32)
    if gather_axis == quantize_axis:
        scale = _take(scales, indices // block, gather_axis)
        zp = _take(zp, indices // block, gather_axis)
    else:
        scale, zp = _take(scales, indices, gather_axis), _take(zp, indices, gather_axis)
        axis = quantize_axis if quantize_axis < gather_axis else quantize_axis + indices.ndim - 1
        length = q.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(np.arange(length), axis=axis)
        if isinstance(zp, np.ndarray) and zp.ndim:
            zp = np.repeat(zp, block, axis=axis).take(np.arange(length), axis=axis)
    out = (q if zp is None else q - zp) * scale.astype(np.float32)
    if not valid.all():
        keep = valid.reshape((1,) * gather_axis + valid.shape + (1,) * (rank - gather_axis - 1))
        out = np.where(keep, out, np.float32(0))
    return out.astype(scales.dtype, copy=False)
