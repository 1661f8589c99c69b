"""Sliding-window geometry shared by the convolution and pooling kernels.

Spatial attributes (kernel_shape, strides, dilations, pads, auto_pad) resolve
to per-axis tuples; windows are read as strided slices or strided views of a
padded input, and scattered back (col2im) one kernel position at a time.
"""

from __future__ import annotations

import itertools
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


def window_view(
    x: np.ndarray,
    kernel: Sequence[int],
    out: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    begin: Sequence[int],
    flat: bool,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Windows of ``x`` (N, C, *spatial) as a read-only view (N, C, *kernel, *positions), and their grid.

    ``flat`` (unit strides only) makes the positions one flat axis over the padded image: a
    window starts at every padded element up to the last output window, so copying the view
    moves long contiguous runs. Products over these positions fill ``grid`` = (out[0],
    *padded[1:]) row-major, and the caller crops ``grid`` to ``out``. Otherwise positions and
    grid are ``out``.
    """
    xp = np.ascontiguousarray(padded_for_windows(x, begin, out, kernel, strides, dilations))
    spatial = xp.strides[2:]
    taps = tuple(st * d for st, d in zip(spatial, dilations))
    if flat:
        count = sum((o - 1) * st for o, st in zip(out, spatial)) // xp.itemsize + 1
        shape, steps = (count,), (xp.itemsize,)
        grid = (out[0],) + xp.shape[3:]
    else:
        shape, steps = tuple(out), tuple(st * s for st, s in zip(spatial, strides))
        grid = tuple(out)
    view = as_strided(xp, xp.shape[:2] + tuple(kernel) + shape, xp.strides[:2] + taps + steps, writeable=False)
    return view, grid


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
