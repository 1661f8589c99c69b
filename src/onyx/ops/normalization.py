"""Normalization: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LRN, MeanVarianceNormalization, LpNormalization."""

from __future__ import annotations

import math

import numpy as np

from onyx.compiled import compiled_variant
from onyx.ops.fast import normalization as fast
from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axes, normalize_axis

_STASH_DTYPES = {1: np.dtype(np.float32), 11: np.dtype(np.float64)}


def _stash_dtype(stash_type: int) -> np.dtype:
    """The precision the statistics are computed in (stash_type is a TensorProto data type)."""
    if stash_type not in _STASH_DTYPES:
        raise ValueError(f"unsupported stash_type {stash_type}")
    return _STASH_DTYPES[stash_type]


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector against (N, C, D1, ...)."""
    return (-1,) + (1,) * (x.ndim - 2)


# -- BatchNormalization ---------------------------------------------------------------


def _batchnorm_apply(x, scale, bias, mean, var, epsilon: float) -> np.ndarray:
    """scale * (x - mean) / sqrt(var + epsilon) + bias, folded into one multiply-add."""
    dtype = np.result_type(x.dtype, np.float32)
    factor = np.asarray(scale, dtype) / np.sqrt(np.asarray(var, dtype) + dtype.type(epsilon))
    shift = np.asarray(bias, dtype) - np.asarray(mean, dtype) * factor
    if factor.ndim == 1:
        factor, shift = factor.reshape(_channel_shape(x)), shift.reshape(_channel_shape(x))
    y = x * factor
    y += shift
    return y.astype(x.dtype, copy=False)


def _batch_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) variance of a (N, C, ...) batch."""
    axes = (0,) + tuple(range(2, x.ndim))
    xf = x.astype(np.result_type(x.dtype, np.float32), copy=False)
    mean = xf.mean(axis=axes)
    var = xf.var(axis=axes)
    return mean, var


def _batchnorm_train(x, scale, bias, mean, var, epsilon: float, momentum: float):
    """Normalize with the batch statistics; also the updated running statistics."""
    batch_mean, batch_var = _batch_statistics(x)
    y = _batchnorm_apply(x, scale, bias, batch_mean, batch_var, epsilon)
    running_mean = (mean * momentum + batch_mean * (1 - momentum)).astype(mean.dtype, copy=False)
    running_var = (var * momentum + batch_var * (1 - momentum)).astype(var.dtype, copy=False)
    return y, running_mean, running_var, batch_mean.astype(mean.dtype), batch_var.astype(var.dtype)


@kernel("BatchNormalization", since=(1, 6))
def batch_normalization_6(x, scale, b, mean, var, *, epsilon=1e-5, is_test=0, momentum=0.9, spatial=1,
                          _num_outputs=1):
    return batch_normalization_7(x, scale, b, mean, var, epsilon=epsilon, momentum=momentum, spatial=spatial,
                                 _num_outputs=1 if is_test else _num_outputs)


@kernel("BatchNormalization", since=(7, 9))
def batch_normalization_7(x, scale, b, mean, var, *, epsilon=1e-5, momentum=0.9, spatial=1, _num_outputs=1):
    """Before opset 9, spatial=0 gives scale/B/mean/var of shape (C, D1, ...) instead of (C,)."""
    if _num_outputs > 1:
        return _batchnorm_train(x, scale, b, mean, var, epsilon, momentum)[:_num_outputs]
    return _batchnorm_apply(x, scale, b, mean, var, epsilon)


@kernel("BatchNormalization", since=14)
def batch_normalization_14(x, scale, b, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0):
    if training_mode:
        return _batchnorm_train(x, scale, b, input_mean, input_var, epsilon, momentum)[:3]
    return _batchnorm_apply(x, scale, b, input_mean, input_var, epsilon)


# -- Instance / Group / Layer / RMS normalization ---------------------------------------


_ROW_PRODUCT_MAX = 4096  # normalized sizes up to this take their means as matrix-vector products


def _means(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Means over ``axes`` (kept as 1). Over a few trailing axes of at most _ROW_PRODUCT_MAX
    elements a product with a 1/size vector: BLAS sums short rows faster than NumPy's
    reductions (LayerNormalization over 96 channels: 0.37 -> 0.22 ms for 56x56 positions)."""
    size = math.prod(values.shape[a] for a in axes)
    trailing = axes == tuple(range(values.ndim - len(axes), values.ndim))
    if not trailing or size > _ROW_PRODUCT_MAX or values.dtype not in (np.float32, np.float64) or size == 0:
        return values.mean(axis=axes, keepdims=True)
    rows = np.ascontiguousarray(values).reshape(-1, size)
    weights = np.full(size, 1.0 / size, dtype=values.dtype)
    return (rows @ weights).reshape(values.shape[: values.ndim - len(axes)] + (1,) * len(axes))


def _standardize(x: np.ndarray, axes: tuple[int, ...], epsilon: float, dtype: np.dtype):
    """(x - mean) * inv_std over ``axes`` computed in ``dtype``; also mean and inv_std (kept dims)."""
    xf = x.astype(dtype, copy=False)
    mean = _means(xf, axes)
    centered = xf - mean
    var = _means(np.square(centered), axes)
    inv_std = 1.0 / np.sqrt(var + dtype.type(epsilon))
    centered *= inv_std
    return centered, mean, inv_std


@kernel("InstanceNormalization", since=(1, 6))
def instance_normalization(x, scale, b, *, epsilon=1e-5):
    dtype = np.result_type(x.dtype, np.float32)
    y, _, _ = _standardize(x, tuple(range(2, x.ndim)), epsilon, dtype)
    y *= scale.astype(dtype, copy=False).reshape(_channel_shape(x))
    y += b.astype(dtype, copy=False).reshape(_channel_shape(x))
    return y.astype(x.dtype, copy=False)


def _group_standardize(x: np.ndarray, num_groups: int, epsilon: float, dtype: np.dtype) -> np.ndarray:
    """x normalized per (instance, group of channels), back in x's (N, C, ...) shape, in ``dtype``."""
    n, c = x.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"num_groups {num_groups} does not divide the {c} channels")
    grouped = x.reshape(n, num_groups, -1)
    y, _, _ = _standardize(grouped, (2,), epsilon, dtype)
    return y.reshape(x.shape)


@kernel("GroupNormalization", since=18)
def group_normalization_18(x, scale, bias, *, epsilon=1e-5, num_groups=None):
    """Opset-18 form: scale and bias hold one value per group."""
    dtype = np.result_type(x.dtype, np.float32)
    y = _group_standardize(x, num_groups, epsilon, dtype)
    per_channel = x.shape[1] // num_groups
    y *= np.repeat(scale.astype(dtype, copy=False), per_channel).reshape(_channel_shape(x))
    y += np.repeat(bias.astype(dtype, copy=False), per_channel).reshape(_channel_shape(x))
    return y.astype(x.dtype, copy=False)


@kernel("GroupNormalization", since=21)
def group_normalization_21(x, scale, bias, *, epsilon=1e-5, num_groups=None, stash_type=1):
    """Opset-21 form: scale and bias hold one value per channel."""
    y = _group_standardize(x, num_groups, epsilon, _stash_dtype(stash_type)).astype(x.dtype, copy=False)
    return y * scale.reshape(_channel_shape(x)) + bias.reshape(_channel_shape(x))


@kernel("LayerNormalization", since=17)
@compiled_variant(fast.choose_layer_normalization)
def layer_normalization(x, scale, b=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """Normalize over axes [axis, rank); Mean and InvStdDev keep the reduced axes as 1."""
    axis = normalize_axis(axis, x.ndim)
    dtype = _stash_dtype(stash_type)
    y, mean, inv_std = _standardize(x, tuple(range(axis, x.ndim)), epsilon, dtype)
    y *= scale
    if b is not None:
        y += b
    return y.astype(x.dtype, copy=False), mean, inv_std


@kernel("RMSNormalization", since=23)
def rms_normalization(x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """x / sqrt(mean(x**2 over [axis, rank)) + epsilon) * scale."""
    axis = normalize_axis(axis, x.ndim)
    xf = x.astype(_stash_dtype(stash_type), copy=False)
    mean_square = np.mean(np.square(xf), axis=tuple(range(axis, x.ndim)), keepdims=True)
    y = xf / np.sqrt(mean_square + xf.dtype.type(epsilon))
    return (y.astype(x.dtype, copy=False) * scale).astype(x.dtype, copy=False)


# -- LRN / MVN / Lp ------------------------------------------------------------------


@kernel("LRN", since=1)
def lrn(x, *, alpha=1e-4, beta=0.75, bias=1.0, size=None):
    """Local response normalization across channels: the window sum of squares is built
    from ``size`` shifted slices (one pass each), the power as square roots when beta is 0.75."""
    if size is None or size < 1:
        raise ValueError("LRN needs a positive 'size'")
    dtype = np.result_type(x.dtype, np.float32)
    before, after = (size - 1) // 2, size // 2  # floor and ceil of (size - 1) / 2
    xf = x.astype(dtype, copy=False)
    squares = np.square(xf)
    c = x.shape[1]
    total = squares.copy()
    for offset in range(max(-before, 1 - c), min(after, c - 1) + 1):
        if offset:
            lo, hi = max(0, -offset), min(c, c - offset)
            total[:, lo:hi] += squares[:, lo + offset:hi + offset]
    total *= dtype.type(alpha / size)
    total += dtype.type(bias)
    if beta == 0.75:  # t ** 0.75 = sqrt(t * sqrt(t)), much cheaper than a general power
        total *= np.sqrt(total)
        np.sqrt(total, out=total)
    else:
        np.power(total, dtype.type(beta), out=total)
    np.divide(xf, total, out=total)
    return total.astype(x.dtype, copy=False)


@kernel("MeanVarianceNormalization", since=9)
def mean_variance_normalization(x, *, axes=(0, 2, 3)):
    """(x - E[x]) / (sqrt(E[(x - E[x])^2]) + 1e-9) over ``axes``."""
    axes = normalize_axes(axes, x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    std = np.sqrt(np.mean(np.square(centered), axis=axes, keepdims=True))
    return (centered / (std + x.dtype.type(1e-9))).astype(x.dtype, copy=False)


@kernel("LpNormalization", since=1)
def lp_normalization(x, *, axis=-1, p=2):
    """x / ||x||_p along ``axis``; zero where the norm is zero."""
    axis = normalize_axis(axis, x.ndim)
    if p == 1:
        norm = np.sum(np.abs(x), axis=axis, keepdims=True)
    elif p == 2:
        norm = np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization supports p=1 or p=2, got {p}")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(norm == 0, x.dtype.type(0), x / norm)
    return y.astype(x.dtype, copy=False)
