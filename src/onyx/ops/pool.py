"""Pooling: MaxPool, AveragePool, LpPool, their Global forms, MaxUnpool and MaxRoiPool.

Windowed pools pad the input once, then reduce axis by axis over strided
slices (max and sum factor over axes): a few array operations per kernel
position, none per pixel. MaxPool's argmax output walks all kernel positions.
"""

from __future__ import annotations

import math
import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.window import (
    output_shape,
    pad_spatial,
    padded_for_windows,
    resolve_pads,
    separable_reduce,
    spatial_attr,
    window_slices,
)


class PoolGeometry:
    """Resolved spatial attributes of a pooling node applied to one input shape."""

    def __init__(self, x: np.ndarray, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode):
        if kernel_shape is None:
            raise ValueError("kernel_shape is required")
        rank = len(kernel_shape)
        if x.ndim != rank + 2:
            raise ValueError(f"input of shape {x.shape} does not match kernel_shape {list(kernel_shape)}")
        self.kernel = tuple(int(k) for k in kernel_shape)
        self.strides = spatial_attr(strides, rank, 1, "strides")
        self.dilations = spatial_attr(dilations, rank, 1, "dilations")
        self.in_shape = x.shape[2:]
        self.begin, self.end = resolve_pads(auto_pad, pads, self.in_shape, self.kernel, self.strides, self.dilations)
        self.out = output_shape(
            self.in_shape, self.kernel, self.strides, self.dilations, self.begin, self.end, bool(ceil_mode)
        )

    @property
    def whole_input(self) -> bool:
        """One window that covers the unpadded input exactly: a global pool."""
        return (self.kernel == tuple(self.in_shape) and all(d == 1 for d in self.dilations)
                and not any(self.begin) and not any(self.end))

    def padded(self, x: np.ndarray, value) -> np.ndarray:
        return padded_for_windows(x, self.begin, self.out, self.kernel, self.strides, self.dilations, value)

    def reduce(self, xp: np.ndarray, combine: np.ufunc) -> np.ndarray:
        return separable_reduce(xp, self.kernel, self.out, self.strides, self.dilations, combine)

    def slices(self):
        return window_slices(self.kernel, self.out, self.strides, self.dilations)

    def counts(self, include_pad: bool) -> np.ndarray:
        """Per output position, how many window elements fall in the input (or input + explicit pads)."""
        total = np.ones((), dtype=np.int64)
        for axis, (size, k, s, d, b, e, o) in enumerate(
            zip(self.in_shape, self.kernel, self.strides, self.dilations, self.begin, self.end, self.out)
        ):
            pos = np.arange(o)[:, None] * s + np.arange(k)[None, :] * d
            lo, hi = (0, size + b + e) if include_pad else (b, b + size)
            per_axis = ((pos >= lo) & (pos < hi)).sum(axis=1)
            total = np.multiply.outer(total, per_axis)
        return total


def lowest(dtype: np.dtype):
    """The padding value that never wins a max."""
    return np.iinfo(dtype).min if np.issubdtype(dtype, np.integer) else -np.inf


def max_pool_values(x: np.ndarray, g: PoolGeometry) -> np.ndarray:
    return g.reduce(g.padded(x, lowest(x.dtype)), np.maximum)


def max_pool_with_indices(x: np.ndarray, g: PoolGeometry, storage_order: int) -> tuple[np.ndarray, np.ndarray]:
    """Max values and the flat input index of each (first) maximum."""
    xp = g.padded(x, lowest(x.dtype))
    y = arg = None
    for k, slices in enumerate(g.slices()):
        window = xp[(..., *slices)]
        if y is None:
            y, arg = window.copy(), np.zeros(window.shape, dtype=np.int64)
            continue
        better = window > y
        np.copyto(y, window, where=better)
        np.copyto(arg, k, where=better)
    offsets = np.unravel_index(arg, g.kernel)
    rank = len(g.kernel)
    coords = []
    for axis in range(rank):
        shape = [1] * (rank + 2)
        shape[axis + 2] = g.out[axis]
        start = (np.arange(g.out[axis]) * g.strides[axis] - g.begin[axis]).reshape(shape)
        coords.append(start + offsets[axis] * g.dilations[axis])
    order = range(rank) if storage_order == 0 else reversed(range(rank))
    flat = np.zeros_like(arg)
    for axis in order:
        flat = flat * g.in_shape[axis] + coords[axis]
    n, c = x.shape[:2]
    plane = np.arange(n * c, dtype=np.int64).reshape(n, c, *([1] * rank)) * math.prod(g.in_shape)
    return y, plane + flat


def max_pool(x, num_outputs, *, auto_pad, ceil_mode, dilations, kernel_shape, pads, storage_order, strides):
    g = PoolGeometry(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    if num_outputs > 1:
        return max_pool_with_indices(x, g, storage_order)
    return global_max_pool(x) if g.whole_input else max_pool_values(x, g)


@kernel("MaxPool", since=(1, 8, 10))
def max_pool_10(
    x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None, storage_order=0,
    strides=None, _num_outputs=1,
):
    """Max over each window; the optional second output holds flat argmax indices."""
    return max_pool(x, _num_outputs, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations,
                    kernel_shape=kernel_shape, pads=pads, storage_order=storage_order, strides=strides)


def average_pool(x, *, auto_pad, ceil_mode, count_include_pad, dilations, kernel_shape, pads, strides):
    g = PoolGeometry(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    if g.whole_input:
        return global_average_pool(x)
    ct = np.float64 if x.dtype == np.float64 else np.float32
    y = g.reduce(g.padded(x.astype(ct, copy=False), 0), np.add)
    y /= g.counts(bool(count_include_pad)).astype(ct)
    return y.astype(x.dtype, copy=False)


@kernel("AveragePool", since=(1, 7, 10, 19))
def average_pool_19(
    x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape=None, pads=None,
    strides=None,
):
    """Mean over each window; padding counts toward the divisor only with count_include_pad."""
    return average_pool(x, auto_pad=auto_pad, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                        dilations=dilations, kernel_shape=kernel_shape, pads=pads, strides=strides)


def lp_pool(x, *, p, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides):
    g = PoolGeometry(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    ct = np.float64 if x.dtype == np.float64 else np.float32
    xa = np.abs(x.astype(ct, copy=False))
    y = g.reduce(g.padded(xa * xa if p == 2 else xa ** ct(p), 0), np.add)
    y = np.sqrt(y) if p == 2 else y ** ct(1.0 / p)
    return y.astype(x.dtype, copy=False)


@kernel("LpPool", since=(1, 2, 18))
def lp_pool_18(
    x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2, pads=None, strides=None
):
    """(sum |x|^p)^(1/p) over each window."""
    return lp_pool(x, p=p, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations,
                   kernel_shape=kernel_shape, pads=pads, strides=strides)


def spatial_axes(x: np.ndarray) -> tuple[int, ...]:
    if x.ndim < 3:
        raise ValueError(f"global pooling expects (N, C, D1, ...), got shape {x.shape}")
    return tuple(range(2, x.ndim))


@kernel("GlobalAveragePool", since=1)
def global_average_pool(x):
    ct = np.float64 if x.dtype == np.float64 else np.float32
    return x.mean(axis=spatial_axes(x), keepdims=True, dtype=ct).astype(x.dtype, copy=False)


@kernel("GlobalMaxPool", since=1)
def global_max_pool(x):
    return x.max(axis=spatial_axes(x), keepdims=True)


def global_lp_pool(x: np.ndarray, p: float) -> np.ndarray:
    ct = np.float64 if x.dtype == np.float64 else np.float32
    xa = np.abs(x.astype(ct, copy=False))
    y = (xa ** ct(p)).sum(axis=spatial_axes(x), keepdims=True) ** ct(1.0 / p)
    return y.astype(x.dtype, copy=False)


@kernel("GlobalLpPool", since=(1, 2))
def global_lp_pool_2(x, *, p=2):
    """(sum |x|^p)^(1/p) over all spatial positions."""
    return global_lp_pool(x, p)


@kernel("MaxUnpool", since=9)
def max_unpool(x, indices, output_shape=None, *, kernel_shape=None, pads=None, strides=None):
    """Scatters ``x`` to the flat positions ``indices`` of the pre-pooling shape, zeros elsewhere."""
    if kernel_shape is None:
        raise ValueError("kernel_shape is required")
    rank = len(kernel_shape)
    strides = spatial_attr(strides, rank, 1, "strides")
    begin, end = resolve_pads("NOTSET", pads, x.shape[2:], kernel_shape, strides, (1,) * rank)
    inferred = x.shape[:2] + tuple(
        (i - 1) * s - b - e + k for i, s, b, e, k in zip(x.shape[2:], strides, begin, end, kernel_shape)
    )
    y = np.zeros(math.prod(inferred), dtype=x.dtype)
    y[np.asarray(indices, dtype=np.int64).reshape(-1)] = x.reshape(-1)
    y = y.reshape(inferred)
    if output_shape is None:
        return y
    target = tuple(int(v) for v in np.asarray(output_shape).reshape(-1))
    if len(target) != x.ndim or target[:2] != x.shape[:2]:
        raise ValueError(f"output_shape {list(target)} does not match input shape {x.shape}")
    return pad_spatial(y, (0,) * rank, target[2:])


@kernel("MaxRoiPool", since=1)
def max_roi_pool(x, rois, *, pooled_shape=None, spatial_scale=1.0):
    """Max over a pooled_shape grid of bins inside each region of interest (batch, x1, y1, x2, y2)."""
    if pooled_shape is None or len(pooled_shape) != 2 or x.ndim != 4:
        raise ValueError("MaxRoiPool expects 4-D X and a 2-value pooled_shape")
    ph, pw = (int(v) for v in pooled_shape)
    height, width = x.shape[2:]
    boxes = np.round(np.asarray(rois, dtype=np.float64)[:, 1:5] * spatial_scale).astype(np.int64)
    out = np.zeros((len(rois), x.shape[1], ph, pw), dtype=x.dtype)
    for r, (batch, (x1, y1, x2, y2)) in enumerate(zip(np.asarray(rois)[:, 0].astype(np.int64), boxes)):
        rows = bin_masks(y1, y2, ph, height)
        cols = bin_masks(x1, x2, pw, width)
        plane = np.where(rows[None, :, :, None], x[batch][:, None, :, :], lowest(x.dtype)).max(axis=2)
        pooled = np.where(cols[None, None, :, :], plane[:, :, None, :], lowest(x.dtype)).max(axis=3)
        empty = ~(rows.any(axis=1)[:, None] & cols.any(axis=1)[None, :])
        out[r] = np.where(empty, 0, pooled)
    return out


def bin_masks(start: int, stop: int, bins: int, size: int) -> np.ndarray:
    """(bins, size) mask of the input positions each bin covers along one axis."""
    length = max(stop - start + 1, 1)
    edges = np.arange(bins + 1) * (length / bins)
    lo = np.clip(np.floor(edges[:-1]).astype(np.int64) + start, 0, size)
    hi = np.clip(np.ceil(edges[1:]).astype(np.int64) + start, 0, size)
    pos = np.arange(size)
    return (pos[None, :] >= lo[:, None]) & (pos[None, :] < hi[:, None])

