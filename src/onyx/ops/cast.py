"""Type conversion: Cast, CastLike, BitCast.

Small float and int types (bfloat16, float8*, float4e2m1, int4/uint4, int2/uint2)
are ml_dtypes dtypes. Rules from the Cast spec:

* float8 targets with ``saturate=1`` clamp out-of-range values (and +/-inf) to
  +/-FLT_MAX of the target; with ``saturate=0`` they become NaN (or inf for E5M2).
* float8e8m0 holds only a biased power-of-two exponent; ``round_mode`` picks
  how a value between two powers of two is rounded.
* strings parse "NaN", "INF", "+INF", "-INF" (any case) and scientific notation;
  numbers format as onnxruntime does (``%.8g``, "NaN", "INF", "-INF", bools as "1"/"0").
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import TensorProto

from onyx.model.types import np_dtype
from onyx.ops.registry import kernel

_FLOAT8 = frozenset(
    np.dtype(t)
    for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz)
)
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
_STRING = np.dtype(object)
_SMALL_INTS = frozenset(np.dtype(t) for t in (ml_dtypes.int4, ml_dtypes.uint4, ml_dtypes.int2, ml_dtypes.uint2))
# bit widths of the types ml_dtypes stores one element per byte, in the byte's low bits
_SUB_BYTE_BITS = {
    np.dtype(ml_dtypes.int4): 4,
    np.dtype(ml_dtypes.uint4): 4,
    np.dtype(ml_dtypes.float4_e2m1fn): 4,
    np.dtype(ml_dtypes.int2): 2,
    np.dtype(ml_dtypes.uint2): 2,
}


def to_string(x: np.ndarray) -> np.ndarray:
    """Numbers -> object array of str, formatted like onnxruntime."""
    if x.dtype == _STRING:
        return x.copy()
    if x.dtype == np.bool_:
        text = x.astype(np.uint8).astype(str)
    elif x.dtype.kind in "iu" or x.dtype in _SMALL_INTS:
        text = (x if x.dtype.kind in "iu" else x.astype(np.int64)).astype(str)
    else:
        wide = x.astype(np.float64)
        text = np.char.mod("%.8g", wide)
        text[np.isnan(wide)] = "NaN"
        text[np.isposinf(wide)] = "INF"
        text[np.isneginf(wide)] = "-INF"
    return text.astype(object)


def from_string(x: np.ndarray, dtype: np.dtype, saturate: int, round_mode: str) -> np.ndarray:
    """Object array of str -> numbers; integer targets accept decimal text, truncated."""
    if dtype.kind in "iu":
        try:
            return x.astype(np.int64).astype(dtype)
        except ValueError:
            pass
    try:
        values = x.astype(np.float64)
    except ValueError as exc:
        raise ValueError(f"cannot parse string as a number: {exc}") from None
    return cast_numeric(values, dtype, saturate, round_mode)


def to_float8e8m0(x: np.ndarray, saturate: int, round_mode: str) -> np.ndarray:
    """float -> float8e8m0 (2**(e - 127), e in 0..254; 255 is NaN)."""
    wide = np.abs(x.astype(np.float64))
    mantissa, exponent = np.frexp(wide)  # wide = mantissa * 2**exponent, mantissa in [0.5, 1)
    fraction = 2 * mantissa  # in [1, 2): wide = fraction * 2**(exponent - 1)
    if round_mode == "up":
        exponent = exponent + (fraction > 1)
    elif round_mode == "nearest":
        exponent = exponent + (fraction >= 1.5)
    elif round_mode != "down":
        raise ValueError(f"round_mode must be 'up', 'down' or 'nearest', got '{round_mode}'")
    biased = exponent.astype(np.int64) - 1 + 127
    biased = np.where(wide == 0, -1, biased)  # zero is below the smallest value
    if saturate:
        bits = np.clip(biased, 0, 254)
        bits = np.where(np.isposinf(wide), 254, bits)
    else:
        bits = np.where((biased < 0) | (biased > 254) | np.isinf(wide), 255, biased)
    bits = np.where(np.isnan(wide), 255, bits)
    return bits.astype(np.uint8).view(_E8M0)


def cast_numeric(x: np.ndarray, dtype: np.dtype, saturate: int, round_mode: str) -> np.ndarray:
    """Numeric (or bool) -> numeric (or bool) following the spec's saturation rules."""
    if dtype == _E8M0:
        return x.astype(dtype) if x.dtype == dtype else to_float8e8m0(x, saturate, round_mode)
    if dtype in _FLOAT8 and x.dtype != dtype:
        wide = x.astype(np.float32)
        if saturate:
            limit = float(ml_dtypes.finfo(dtype).max)
            wide = np.clip(wide, -limit, limit)
        return wide.astype(dtype)
    if x.dtype in _FLOAT8 | {_E8M0} and dtype.kind in "iub":
        x = x.astype(np.float32)  # ml_dtypes float8 -> int/bool goes through float
    return x.astype(dtype, copy=False)


def cast(x: np.ndarray, dtype: np.dtype, saturate: int = 1, round_mode: str = "up") -> np.ndarray:
    """Cast ``x`` to ``dtype`` (strings included)."""
    with np.errstate(invalid="ignore", over="ignore"):
        if dtype == _STRING:
            return to_string(x)
        if x.dtype == _STRING:
            return from_string(x, dtype, saturate, round_mode)
        return cast_numeric(x, dtype, saturate, round_mode)


@kernel("Cast", since=1)
def cast_1(input, *, to=None):
    """Cast-1 names the target type as a string ('FLOAT'); later versions as an enum int."""
    if isinstance(to, str):
        to = TensorProto.DataType.Value(to.upper())
    return cast(input, np_dtype(to))


@kernel("Cast", since=(6, 19, 24))
def cast_to(input, *, to=None, saturate=1, round_mode="up"):
    return cast(input, np_dtype(to), saturate, round_mode)


@kernel("CastLike", since=(15, 19, 24))
def cast_like(input, target_type, *, saturate=1, round_mode="up"):
    return cast(input, target_type.dtype, saturate, round_mode)


def _bit_width(dtype: np.dtype) -> int:
    return _SUB_BYTE_BITS.get(dtype, dtype.itemsize * 8)


@kernel("BitCast", since=26)
def bit_cast(input, *, to=None):
    """Reinterpret the bits of each element as type ``to`` (same bit width)."""
    dtype = np_dtype(to)
    if input.dtype == _STRING or dtype == _STRING:
        raise TypeError("BitCast does not support strings")
    if _bit_width(input.dtype) != _bit_width(dtype):
        raise TypeError(f"BitCast needs equal bit widths, got {input.dtype} -> {dtype}")
    if dtype not in _SUB_BYTE_BITS:
        return input.view(dtype)
    # sub-byte types: ml_dtypes stores the bits in the low end of one byte
    bits = input.view(np.uint8) & np.uint8((1 << _bit_width(dtype)) - 1)
    if dtype not in _SMALL_INTS:
        return bits.view(dtype)
    if ml_dtypes.iinfo(dtype).min < 0:
        half = 1 << (_bit_width(dtype) - 1)
        return (bits.astype(np.int8) - (bits >= half).astype(np.int8) * np.int8(2 * half)).astype(dtype)
    return bits.astype(dtype)
