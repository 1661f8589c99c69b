"""Sliding-window geometry shared by the convolution and pooling kernels.

Spatial attributes (kernel_shape, strides, dilations, pads, auto_pad) resolve
to per-axis tuples; windows are read as strided slices or strided views of a
padded input (or of its stride phases), and scattered back (col2im) one kernel position at a time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def spatial_attr(value: Sequence[int] | None, rank: int, default: int, name: str) -> tuple[int, ...]:
    """strides/dilations as a tuple of ``rank`` ints (``default`` each when absent)."""
    if value is None or len(value) == 0:
        return (default,) * rank
    if len(value) != rank:
        raise ValueError(f"{name} has {len(value)} values, expected {rank}")
    return tuple(int(v) for v in value)


def effective_kernel(kernel: Sequence[int], dilations: Sequence[int]) -> tuple[int, ...]:
    """Extent of each dilated kernel axis: (k - 1) * d + 1."""
    return tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations))


def resolve_pads(
    auto_pad: str,
    pads: Sequence[int] | None,
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(begin, end) pads per spatial axis from ``auto_pad`` and the ``pads`` attribute."""
    rank = len(in_shape)
    if auto_pad not in AUTO_PADS:
        raise ValueError(f"unsupported auto_pad '{auto_pad}'")
    if auto_pad == "VALID":
        return (0,) * rank, (0,) * rank
    if auto_pad == "NOTSET":
        if pads is None or len(pads) == 0:
            return (0,) * rank, (0,) * rank
        if len(pads) != 2 * rank:
            raise ValueError(f"pads has {len(pads)} values, expected {2 * rank}")
        return tuple(int(p) for p in pads[:rank]), tuple(int(p) for p in pads[rank:])
    begin, end = [], []
    for size, k, s in zip(in_shape, effective_kernel(kernel, dilations), strides):
        out = -(-size // s)
        total = max(0, (out - 1) * s + k - size)
        small, large = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else large)
        end.append(large if auto_pad == "SAME_UPPER" else small)
    return tuple(begin), tuple(end)


def output_shape(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    begin: Sequence[int],
    end: Sequence[int],
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Number of windows per axis; in ceil mode a last window must start inside input or begin pad."""
    out = []
    for size, k, s, b, e in zip(in_shape, effective_kernel(kernel, dilations), strides, begin, end):
        span = size + b + e - k
        n = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (n - 1) * s >= size + b:
            n -= 1
        if n < 1:
            raise ValueError(f"kernel extent {k} does not fit in padded input of size {size + b + e}")
        out.append(n)
    return tuple(out)


def pad_spatial(x: np.ndarray, begin: Sequence[int], sizes: Sequence[int], value=0) -> np.ndarray:
    """``x`` with its trailing axes shifted by ``begin`` into a ``value``-filled array of ``sizes``.

    Data beyond ``sizes`` is cropped; returns ``x`` itself when nothing changes.
    """
    rank = len(sizes)
    spatial = x.shape[x.ndim - rank :]
    if all(b == 0 for b in begin) and tuple(sizes) == tuple(spatial):
        return x
    out = np.full(x.shape[: x.ndim - rank] + tuple(sizes), value, dtype=x.dtype)
    dst = tuple(slice(b, min(b + n, size)) for b, n, size in zip(begin, spatial, sizes))
    src = tuple(slice(0, max(0, min(n, size - b))) for b, n, size in zip(begin, spatial, sizes))
    out[(..., *dst)] = x[(..., *src)]
    return out


def padded_for_windows(
    x: np.ndarray,
    begin: Sequence[int],
    out: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    value=0,
) -> np.ndarray:
    """``x`` padded (or cropped) to exactly the extent the ``out`` windows read."""
    sizes = [(o - 1) * s + k for o, s, k in zip(out, strides, effective_kernel(kernel, dilations))]
    return pad_spatial(x, begin, sizes, value)


def window_slices(
    kernel: Sequence[int], out: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> Iterator[tuple[slice, ...]]:
    """For each kernel position (row-major), the strided slices selecting it in every window."""
    for offsets in itertools.product(*(range(k) for k in kernel)):
        yield tuple(slice(i * d, i * d + (o - 1) * s + 1, s) for i, d, o, s in zip(offsets, dilations, out, strides))


def stride_phases(x: np.ndarray, begin: Sequence[int], strides: Sequence[int], phase: Sequence[int]) -> np.ndarray:
    """``x`` (N, C, *spatial) zero-padded by ``begin`` and split into its stride phases, as a
    fresh (N, C, prod(strides), prod(phase)) array: phase r holds the padded elements at
    positions q * stride + r, q < phase, row-major."""
    n, c = x.shape[:2]
    out = np.zeros((n, c) + tuple(strides) + tuple(phase), dtype=x.dtype)
    for rs in itertools.product(*(range(s) for s in strides)):
        dst, src = [], []
        for r, s, b, q, size in zip(rs, strides, begin, phase, x.shape[2:]):
            lo = max(0, -(-(b - r) // s))
            hi = min(q, -(-(size + b - r) // s))
            dst.append(slice(lo, max(lo, hi)))
            src.append(slice(lo * s + r - b, max(lo, hi) * s + r - b, s))
        if all(d.stop > d.start for d in dst):
            out[(slice(None), slice(None), *rs, *dst)] = x[(..., *src)]
    return out.reshape(n, c, math.prod(strides), math.prod(phase))


def window_taps(
    x: np.ndarray,
    kernel: Sequence[int],
    out: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    begin: Sequence[int],
    flat: bool,
) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """Windows of ``x`` (N, C, *spatial) as read-only views (N, C, *block, *positions) that take
    the kernel positions (row-major) a block at a time, and the positions' grid.

    ``flat`` makes the positions one flat axis over the padded input, or over its stride phases
    (of which each kernel position reads one at a fixed offset, one view per position), so that
    copying a view moves long contiguous runs. Products over these positions fill ``grid`` =
    (out[0], *phase[1:]) row-major, and the caller crops ``grid`` to ``out``. Otherwise one
    view (N, C, *kernel, *out) over the padded input, whose grid is ``out``.
    """
    if not flat:
        xp = np.ascontiguousarray(padded_for_windows(x, begin, out, kernel, strides, dilations))
        spatial = xp.strides[2:]
        taps = tuple(st * d for st, d in zip(spatial, dilations))
        steps = tuple(st * s for st, s in zip(spatial, strides))
        shape = xp.shape[:2] + tuple(kernel) + tuple(out)
        return [as_strided(xp, shape, xp.strides[:2] + taps + steps, writeable=False)], tuple(out)
    rank = len(kernel)
    extents = [(o - 1) * s + k for o, s, k in zip(out, strides, effective_kernel(kernel, dilations))]
    phase = [-(-e // s) for e, s in zip(extents, strides)]
    xp = stride_phases(x, begin, strides, phase)
    steps = [math.prod(phase[axis + 1 :]) for axis in range(rank)]
    count = sum((o - 1) * st for o, st in zip(out, steps)) + 1
    grid = (out[0],) + tuple(phase[1:])
    if all(s == 1 for s in strides):
        plane = xp[:, :, 0]
        shape = plane.shape[:2] + tuple(kernel) + (count,)
        taps = tuple(st * d * xp.itemsize for st, d in zip(steps, dilations))
        return [as_strided(plane, shape, plane.strides[:2] + taps + (xp.itemsize,), writeable=False)], grid
    views = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        shifted = [i * d for i, d in zip(offsets, dilations)]
        index = np.ravel_multi_index(tuple(v % s for v, s in zip(shifted, strides)), strides)
        start = sum(v // s * st for v, s, st in zip(shifted, strides, steps))
        views.append(xp[:, :, index, start : start + count])
    return views, grid


def col2im(
    cols: np.ndarray,
    kernel: Sequence[int],
    blocks: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    sizes: Sequence[int],
) -> np.ndarray:
    """Scatter-add ``cols`` (N, C, prod(kernel), *blocks) into a zero (N, C, *sizes) image."""
    image = np.zeros(cols.shape[:2] + tuple(sizes), dtype=cols.dtype)
    for k, slices in enumerate(window_slices(kernel, blocks, strides, dilations)):
        image[(..., *slices)] += cols[:, :, k]
    return image


def separable_reduce(
    xp: np.ndarray,
    kernel: Sequence[int],
    out: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    combine: np.ufunc,
) -> np.ndarray:
    """``combine`` (np.maximum, np.add) over every window of padded ``xp``, one spatial axis at a time.

    Valid for reductions that factor over axes (max, sum); each pass keeps the
    trailing axes whole, so NumPy's inner loops stay long.
    """
    rank = len(kernel)
    if all(s == 1 for s in strides):
        return flat_separable_reduce(xp, kernel, out, dilations, combine)
    y = xp
    for axis, (k, o, s, d) in enumerate(zip(kernel, out, strides, dilations)):
        index = [slice(None)] * y.ndim
        acc = None
        for i in range(k):
            index[y.ndim - rank + axis] = slice(i * d, i * d + (o - 1) * s + 1, s)
            window = y[tuple(index)]
            acc = window.copy() if acc is None else combine(acc, window, out=acc)
        y = acc
    return y


def flat_separable_reduce(
    xp: np.ndarray,
    kernel: Sequence[int],
    out: Sequence[int],
    dilations: Sequence[int],
    combine: np.ufunc,
) -> np.ndarray:
    """``separable_reduce`` for unit strides, over ``xp`` read as one flat array.

    Along an axis whose elements are ``step`` apart in the flat array, kernel position i is the
    flat array shifted by i * dilation * step, so each pass combines a few long contiguous
    ranges (NumPy's inner loops never stop at row ends). Positions near the end of a row mix
    in the next row's values; only the cropped ``out`` positions are returned, and those never do.
    """
    rank = len(kernel)
    padded = xp.shape[xp.ndim - rank :]
    source = np.ascontiguousarray(xp).reshape(-1)
    length = source.size
    buffers = [np.empty(length, dtype=xp.dtype) for _ in range(2)]
    for axis in reversed(range(rank)):
        step = math.prod(padded[axis + 1 :]) * dilations[axis]
        length -= (kernel[axis] - 1) * step
        if kernel[axis] == 1:
            continue
        target = buffers[0][:length]
        combine(source[:length], source[step : step + length], out=target)
        for i in range(2, kernel[axis]):
            combine(target, source[i * step : i * step + length], out=target)
        source, buffers = buffers[0], buffers[::-1]
    # a copy even when nothing was combined: the result must never share the input's memory
    return np.array(source.reshape(xp.shape)[(..., *(slice(0, o) for o in out))], copy=True)
