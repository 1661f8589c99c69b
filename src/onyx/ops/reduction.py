"""Reductions: Reduce*, ArgMax/ArgMin, CumSum/CumProd.

The Reduce* operators take ``axes`` as an attribute up to opset 12 (17 for all
but ReduceSum) and as an optional int64 input afterwards. Reducing over an empty
set of values gives the operator's identity (0 for sums, 1 for products, -inf or
the dtype minimum for ReduceMax, ...); reducing over an empty *list of axes*
with ``noop_with_empty_axes=1`` only applies the element-wise steps
(ReduceLogSum gives log(x), ReduceSumSquare gives x*x...).
"""

from __future__ import annotations

from typing import Callable

import ml_dtypes
import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axes, normalize_axis

Axes = tuple[int, ...] | None

_LOW_PRECISION = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _axes(data: np.ndarray, axes, noop_with_empty_axes: int) -> Axes:
    """The axes to reduce: a tuple (possibly empty: no-op), or None for all axes."""
    if axes is None or len(np.asarray(axes).reshape(-1)) == 0:
        return () if noop_with_empty_axes else None
    return normalize_axes(axes, data.ndim)


def _wide(data: np.ndarray) -> np.ndarray:
    """float16/bfloat16 are accumulated in float32."""
    return data.astype(np.float32) if data.dtype in _LOW_PRECISION else data


def _int_dtype(x: np.ndarray) -> np.dtype | None:
    """Integers accumulate in their own type (NumPy would widen int32 to int64)."""
    return x.dtype if x.dtype.kind in "iu" else None


def _sum(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.sum(_wide(x), axis=axes, keepdims=keepdims, dtype=_int_dtype(x))


def _identity_extreme(dtype: np.dtype, largest: bool):
    """+/-inf for floats, the dtype's max/min otherwise (bool: True/False)."""
    if dtype == np.bool_:
        return largest
    if dtype.kind == "f" or dtype in _LOW_PRECISION:
        return np.inf if largest else -np.inf
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def reduce_sum(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return _sum(x, axes, keepdims)


def reduce_mean(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.mean(_wide(x), axis=axes, keepdims=keepdims)


def reduce_max(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.max(x, axis=axes, keepdims=keepdims, initial=_identity_extreme(x.dtype, False))


def reduce_min(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.min(x, axis=axes, keepdims=keepdims, initial=_identity_extreme(x.dtype, True))


def reduce_prod(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.prod(_wide(x), axis=axes, keepdims=keepdims, dtype=_int_dtype(x))


def reduce_l1(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return _sum(np.abs(x), axes, keepdims)


def reduce_l2(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    wide = _wide(x)
    return np.sqrt(_sum(wide * wide, axes, keepdims))


def reduce_log_sum(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    return np.log(_sum(x, axes, keepdims))


def reduce_log_sum_exp(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    wide = _wide(x)
    peak = np.max(wide, axis=axes, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0).astype(wide.dtype)
    out = np.log(np.sum(np.exp(wide - peak), axis=axes, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axes)


def reduce_sum_square(x: np.ndarray, axes: Axes, keepdims: bool) -> np.ndarray:
    wide = _wide(x)
    return _sum(wide * wide, axes, keepdims)


def _run(fn: Callable, data: np.ndarray, axes: Axes, keepdims: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(fn(data, axes, bool(keepdims))).astype(data.dtype, copy=False)


def _register(op_type: str, fn: Callable, input_axes_since: int) -> None:
    """Register ``op_type`` with axes as attribute (opset 1) and as input (``input_axes_since``)."""

    def with_attribute(data, *, axes=None, keepdims=1):
        return _run(fn, data, _axes(data, axes, 0), keepdims)

    def with_input(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        return _run(fn, data, _axes(data, axes, noop_with_empty_axes), keepdims)

    for f, suffix in ((with_attribute, "attribute"), (with_input, "input")):
        f.__name__ = f"{fn.__name__}_axes_{suffix}"
        f.__doc__ = f"{op_type} with axes as {'an attribute' if suffix == 'attribute' else 'an optional input'}."
    kernel(op_type, since=1)(with_attribute)
    kernel(op_type, since=input_axes_since)(with_input)


_register("ReduceSum", reduce_sum, 13)
_register("ReduceMean", reduce_mean, 18)
_register("ReduceMax", reduce_max, 18)
_register("ReduceMin", reduce_min, 18)
_register("ReduceProd", reduce_prod, 18)
_register("ReduceL1", reduce_l1, 18)
_register("ReduceL2", reduce_l2, 18)
_register("ReduceLogSum", reduce_log_sum, 18)
_register("ReduceLogSumExp", reduce_log_sum_exp, 18)
_register("ReduceSumSquare", reduce_sum_square, 18)


# -- ArgMax / ArgMin ----------------------------------------------------------------


def _arg_extreme(find: Callable, data: np.ndarray, axis: int, keepdims: int, select_last_index: int) -> np.ndarray:
    axis = normalize_axis(axis, data.ndim)
    if select_last_index:
        flipped = np.flip(data, axis=axis)
        index = data.shape[axis] - 1 - find(flipped, axis=axis, keepdims=bool(keepdims))
    else:
        index = find(data, axis=axis, keepdims=bool(keepdims))
    return index.astype(np.int64, copy=False)


@kernel("ArgMax", since=(1, 12))
def arg_max(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(np.argmax, data, axis, keepdims, select_last_index)


@kernel("ArgMin", since=(1, 12))
def arg_min(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(np.argmin, data, axis, keepdims, select_last_index)


# -- CumSum / CumProd -----------------------------------------------------------------


def _cumulative(accumulate: Callable, identity: int, x: np.ndarray, axis, exclusive: int, reverse: int) -> np.ndarray:
    axis_value = np.asarray(axis).reshape(-1)
    if axis_value.size != 1:
        raise ValueError(f"axis must be a scalar or 1-element tensor, got shape {np.shape(axis)}")
    ax = normalize_axis(int(axis_value[0]), x.ndim)
    data = np.flip(x, axis=ax) if reverse else x
    if exclusive:
        shifted = np.full_like(data, identity)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[ax], dst[ax] = slice(None, -1), slice(1, None)
        shifted[tuple(dst)] = data[tuple(src)]
        data = shifted
    out = accumulate(_wide(data), axis=ax).astype(x.dtype, copy=False)
    return np.flip(out, axis=ax) if reverse else out


@kernel("CumSum", since=11)
def cum_sum(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(np.cumsum, 0, x, axis, exclusive, reverse)


@kernel("CumProd", since=26)
def cum_prod(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(np.cumprod, 1, x, axis, exclusive, reverse)
