"""Indexing: slicing, gathers, scatters, selection and index-producing operators.

Every index input is bounds-checked (negative indices count from the end) before
use, so a bad index raises ValueError instead of reading or writing outside an array.
Scatters copy ``data`` once and write with fancy indexing or ``ufunc.at``.
"""

from __future__ import annotations

import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.shape import as_int_list
from onyx.ops.util import normalize_axes, normalize_axis

_REDUCERS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _check_bounds(indices: np.ndarray, dims, op: str) -> np.ndarray:
    """Raise ValueError unless every index lies in [-dim, dim); ``dims`` broadcasts against ``indices``."""
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{op}: indices must be integers, got {indices.dtype}")
    if indices.size:
        dims = np.asarray(dims, dtype=np.int64)
        bad = (indices < -dims) | (indices >= dims)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{op}: index {int(indices[where])} at position {where} is out of range")
    return indices


# -- Slice ---------------------------------------------------------------------------


def _slice(data: np.ndarray, starts, ends, axes, steps) -> np.ndarray:
    starts, ends = as_int_list(starts), as_int_list(ends)
    if len(starts) != len(ends):
        raise ValueError(f"Slice: {len(starts)} starts but {len(ends)} ends")
    axes = normalize_axes(axes, data.ndim) if axes is not None else tuple(range(len(starts)))
    steps = as_int_list(steps) if steps is not None else [1] * len(starts)
    if len(axes) != len(starts) or len(steps) != len(starts):
        raise ValueError("Slice: starts, ends, axes and steps must have the same length")
    if len(set(axes)) != len(axes):
        raise ValueError(f"Slice: axes {list(axes)} contain duplicates")
    index = [slice(None)] * data.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        dim = data.shape[axis]
        if step == 0:
            raise ValueError("Slice: steps must not be 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        index[axis] = slice(start, end if end >= 0 else None, step)
    return data[tuple(index)]


@kernel("Slice", since=1)
def slice_1(data, *, starts=None, ends=None, axes=None):
    if starts is None or ends is None:
        raise ValueError("Slice-1 needs the 'starts' and 'ends' attributes")
    return _slice(data, starts, ends, axes, None)


@kernel("Slice", since=10)
def slice_10(data, starts, ends, axes=None, steps=None):
    return _slice(data, starts, ends, axes, steps)


# -- Gathers -----------------------------------------------------------------------------


def _element_index(data: np.ndarray, indices: np.ndarray, axis: int, op: str) -> tuple[np.ndarray, ...]:
    """The fancy index that pairs each entry of ``indices`` with its position on the other axes."""
    if indices.ndim != data.ndim:
        raise ValueError(f"{op}: indices have rank {indices.ndim}, data has rank {data.ndim}")
    for d, (n_idx, n_data) in enumerate(zip(indices.shape, data.shape)):
        if d != axis and n_idx > n_data:
            raise ValueError(f"{op}: indices shape {indices.shape} exceeds data shape {data.shape} on axis {d}")
    _check_bounds(indices, data.shape[axis], op)
    grid = list(np.indices(indices.shape, sparse=True))
    grid[axis] = indices
    return tuple(grid)


@kernel("Gather", since=1)
def gather(data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim)
    _check_bounds(indices, data.shape[axis], "Gather")
    return np.take(data, indices, axis=axis)


@kernel("GatherElements", since=11)
def gather_elements(data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim)
    return data[_element_index(data, indices, axis, "GatherElements")]


@kernel("GatherND", since=(11, 12, 13))
def gather_nd(data, indices, *, batch_dims=0):
    b = batch_dims
    k = indices.shape[-1] if indices.ndim else 0
    if indices.ndim < 1 or k < 1 or b + k > data.ndim or data.shape[:b] != indices.shape[:b]:
        raise ValueError(f"GatherND: indices shape {indices.shape} does not fit data shape {data.shape} "
                         f"with batch_dims={b}")
    _check_bounds(indices, data.shape[b:b + k], "GatherND")
    batch = int(np.prod(data.shape[:b], dtype=np.int64))
    count = int(np.prod(indices.shape[b:-1], dtype=np.int64))
    flat_data = data.reshape((batch,) + data.shape[b:])
    flat_idx = indices.reshape(batch, count, k)
    picked = flat_data[(np.arange(batch)[:, None],) + tuple(flat_idx[..., j] for j in range(k))]
    return picked.reshape(data.shape[:b] + indices.shape[b:-1] + data.shape[b + k:])


# -- Scatters ----------------------------------------------------------------------------


def _scatter(data: np.ndarray, index: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    """A copy of ``data`` with ``updates`` written (or reduced) at ``index``."""
    out = data.copy()
    if reduction == "none":
        out[index] = updates
    elif reduction in _REDUCERS:
        _REDUCERS[reduction].at(out, index, updates)
    else:
        raise ValueError(f"unknown scatter reduction '{reduction}'")
    return out


def _scatter_elements(data, indices, updates, axis: int, reduction: str) -> np.ndarray:
    axis = normalize_axis(axis, data.ndim)
    if updates.shape != indices.shape:
        raise ValueError(f"ScatterElements: updates shape {updates.shape} differs from indices shape {indices.shape}")
    return _scatter(data, _element_index(data, indices, axis, "ScatterElements"), updates, reduction)


@kernel("ScatterElements", since=16)
def scatter_elements_16(data, indices, updates, *, axis=0, reduction="none"):
    if reduction in ("max", "min"):
        raise ValueError(f"ScatterElements-16 has no reduction '{reduction}' (added in opset 18)")
    return _scatter_elements(data, indices, updates, axis, reduction)


@kernel("Scatter", since=9)
@kernel("ScatterElements", since=(11, 18))
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    return _scatter_elements(data, indices, updates, axis, reduction)


def _scatter_nd(data, indices, updates, reduction: str) -> np.ndarray:
    k = indices.shape[-1] if indices.ndim else 0
    if indices.ndim < 1 or not 1 <= k <= data.ndim:
        raise ValueError(f"ScatterND: indices shape {indices.shape} does not fit data shape {data.shape}")
    expected = indices.shape[:-1] + data.shape[k:]
    if updates.shape != expected:
        raise ValueError(f"ScatterND: updates shape {updates.shape} should be {expected}")
    _check_bounds(indices, data.shape[:k], "ScatterND")
    return _scatter(data, tuple(indices[..., j] for j in range(k)), updates, reduction)


@kernel("ScatterND", since=16)
def scatter_nd_16(data, indices, updates, *, reduction="none"):
    if reduction in ("max", "min"):
        raise ValueError(f"ScatterND-16 has no reduction '{reduction}' (added in opset 18)")
    return _scatter_nd(data, indices, updates, reduction)


@kernel("ScatterND", since=(11, 18))
def scatter_nd(data, indices, updates, *, reduction="none"):
    return _scatter_nd(data, indices, updates, reduction)


@kernel("TensorScatter", since=24)
def tensor_scatter(past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    axis = normalize_axis(axis, past_cache.ndim)
    if axis == 0:
        raise ValueError("TensorScatter: axis must not be the batch axis 0")
    if update.ndim != past_cache.ndim or any(
        u != p for d, (u, p) in enumerate(zip(update.shape, past_cache.shape)) if d != axis
    ):
        raise ValueError(f"TensorScatter: update shape {update.shape} does not match cache shape {past_cache.shape}")
    batch, max_len, seq_len = past_cache.shape[0], past_cache.shape[axis], update.shape[axis]
    starts = np.zeros(batch, np.int64) if write_indices is None else np.asarray(write_indices, np.int64).reshape(-1)
    if starts.shape != (batch,):
        raise ValueError(f"TensorScatter: write_indices must have {batch} entries, got {starts.size}")
    positions = starts[:, None] + np.arange(seq_len)
    if mode == "circular":
        positions %= max_len
    elif mode != "linear":
        raise ValueError(f"TensorScatter: unknown mode '{mode}'")
    if positions.size and (positions.min() < 0 or positions.max() >= max_len):
        raise ValueError(f"TensorScatter: writes fall outside the cache's {max_len} positions")
    out = past_cache.copy()
    np.moveaxis(out, axis, 1)[np.arange(batch)[:, None], positions] = np.moveaxis(update, axis, 1)
    return out


# -- Selection and index-producing operators -------------------------------------------------


@kernel("Compress", since=9)
def compress(input, condition, *, axis=None):
    condition = np.asarray(condition, dtype=bool).reshape(-1)
    if axis is None:
        input, axis = input.reshape(-1), 0
    axis = normalize_axis(axis, input.ndim)
    if condition.size > input.shape[axis]:
        raise ValueError(f"Compress: condition has {condition.size} entries, axis has {input.shape[axis]}")
    return np.compress(condition, input, axis=axis)


@kernel("NonZero", since=9)
def non_zero(X):
    if X.ndim == 0:
        return np.zeros((0, int(bool(X))), dtype=np.int64)
    return np.array(np.nonzero(X), dtype=np.int64).reshape(X.ndim, -1)


@kernel("Unique", since=11)
def unique(X, *, axis=None, sorted=1):
    if axis is not None:
        axis = normalize_axis(axis, X.ndim)
    y, first, inverse, counts = np.unique(
        X if axis is not None else X.reshape(-1),
        return_index=True, return_inverse=True, return_counts=True, axis=axis,
    )
    inverse = inverse.reshape(-1)
    if not sorted:
        # reorder the unique values by first occurrence
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        y = np.take(y, order, axis=axis or 0)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    return y, first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)


@kernel("Trilu", since=14)
def trilu(input, k=None, *, upper=1):
    if input.ndim < 2:
        raise ValueError(f"Trilu expects rank >= 2, got shape {input.shape}")
    diagonal = int(np.asarray(k).reshape(-1)[0]) if k is not None else 0
    return np.triu(input, diagonal) if upper else np.tril(input, diagonal)


@kernel("ReverseSequence", since=10)
def reverse_sequence(input, sequence_lens, *, batch_axis=1, time_axis=0):
    if input.ndim < 2 or {batch_axis, time_axis} != {0, 1}:
        raise ValueError("ReverseSequence: batch_axis and time_axis must be 0 and 1 of a rank >= 2 input")
    steps, batch = input.shape[time_axis], input.shape[batch_axis]
    lens = np.asarray(sequence_lens, dtype=np.int64).reshape(-1)
    if lens.shape != (batch,) or (lens < 0).any() or (lens > steps).any():
        raise ValueError(f"ReverseSequence: sequence_lens must be {batch} values in [0, {steps}]")
    t = np.arange(steps)[:, None]
    source = np.where(t < lens, lens - 1 - t, t)  # (time, batch)
    if batch_axis == 0:
        source = source.T
    source = source.reshape(source.shape + (1,) * (input.ndim - 2))
    return np.take_along_axis(input, source, axis=time_axis)
