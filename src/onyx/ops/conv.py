"""Convolutions: Conv, ConvInteger, QLinearConv, ConvTranspose and Col2Im.

Conv is im2col from strided window views of the padded input (read flat over its stride
phases for depthwise-like convolutions), copied a cache-sized chunk at a time, each chunk
followed by one batched matmul over groups (depthwise included); 1x1 kernels skip im2col.
ConvTranspose is a matmul followed by a col2im scatter-add, one kernel position at a time.
"""

from __future__ import annotations

import math
import numpy as np

from onyx.ops.prepared import prepared
from onyx.ops.registry import kernel
from onyx.ops.window import (
    col2im,
    effective_kernel,
    output_shape,
    padded_for_windows,
    resolve_pads,
    spatial_attr,
    stride_phases,
    window_taps,
)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The float type a convolution of ``dtype`` data runs in (float64 keeps integer sums exact)."""
    if dtype == np.float32 or dtype == np.float64:
        return dtype
    if np.issubdtype(dtype, np.integer):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def conv_geometry(x: np.ndarray, w: np.ndarray, group: int, kernel_shape, strides, dilations, pads, auto_pad):
    """Kernel, strides, dilations, (begin, end) pads and output size of a convolution of ``x`` by ``w``."""
    rank = x.ndim - 2
    if rank < 1 or w.ndim != x.ndim:
        raise ValueError(f"Conv expects X and W of the same rank >= 3, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise ValueError(f"channels of X {x.shape} and W {w.shape} do not match group={group}")
    kern = tuple(w.shape[2:])
    if kernel_shape and tuple(kernel_shape) != kern:
        raise ValueError(f"kernel_shape {list(kernel_shape)} does not match W shape {w.shape}")
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    begin, end = resolve_pads(auto_pad, pads, x.shape[2:], kern, strides, dilations)
    out = output_shape(x.shape[2:], kern, strides, dilations, begin, end)
    return kern, strides, dilations, begin, out


COLUMN_CHUNK = 1 << 20  # elements of im2col columns materialized per product (4 MB: measured best
# with NumPy's default two BLAS threads here; 1 << 17 suits one thread but starves two)
MIN_COLUMNS = 512  # but at least this many columns per product, for the BLAS's sake


def conv_core(
    x: np.ndarray, w: np.ndarray, group: int, kern, strides, dilations, begin, out, bias: np.ndarray | None = None,
    cropped_view: bool = False,
) -> np.ndarray:
    """Convolution of float ``x`` (N, C, *in) by ``w`` (M, C/group, *kern), plus ``bias``, as a fresh
    C-contiguous (N, M, *out) array; with ``cropped_view``, possibly as a strided view of a fresh
    buffer instead (a caller finishing the output in one more pass crops it then)."""
    n, c = x.shape[:2]
    m = w.shape[0]
    wmat = w.reshape(group, m // group, -1)
    if math.prod(kern) == 1:
        xp = padded_for_windows(x, begin, out, kern, strides, dilations)
        cols = xp[(..., *(slice(None, None, s) for s in strides))].reshape(n, group, c // group, -1)
        if group == 1 and bias is not None and c < m:
            return widening_product_with_bias(cols[:, 0], w, bias).reshape((n, m) + out)
        y = np.matmul(wmat[0], cols[:, 0]) if group == 1 else np.matmul(wmat, cols)
        return add_bias(y.reshape((n, m) + out), bias)
    unit_strides = all(s == 1 for s in strides)
    if unit_strides and 2 * (m // group) < c // group:
        y, grid = shifted_product(x, w, group, kern, out, dilations, begin)
    elif unit_strides and len(kern) == 2 and c == group and (math.prod(kern) >= 25 or math.prod(out) >= 3000):
        y, grid = depthwise_rows(x, w, kern, out, dilations, begin)
    else:
        flat = flat_windows(kern, out, strides, dilations, m // group, c // group)
        taps, grid = window_taps(x, kern, out, strides, dilations, begin, flat)
        if bias is not None:  # the bias as a column of the product
            weights = weights_with_bias_column(w, bias).reshape(group, m // group, -1)
            y = windowed_product(taps, weights, len(kern), math.prod(grid), True)
            bias = None
        else:
            y = windowed_product(taps, wmat, len(kern), math.prod(grid))
    y = y.reshape((n, m) + grid)
    if grid == tuple(out):
        return add_bias(y, bias)
    y = y[(..., *(slice(0, o) for o in out))]
    if bias is not None:
        return np.add(y, channel_bias(bias, y))
    return y if cropped_view else np.ascontiguousarray(y)


def flat_windows(kern, out, strides, dilations, outputs_per_group: int, inputs_per_group: int) -> bool:
    """Whether to read windows flat over the padded image or its stride phases (see window_taps):
    when few outputs per group make the product cheap next to the im2col copy (depthwise); for
    strided convolutions, unless the columns have so few rows (3-channel 3x3 stems) that one
    strided copy beats one copy per kernel position; for unit strides, when the padded rows add
    few wasted columns to the product."""
    if outputs_per_group <= 16:
        return True
    if any(s != 1 for s in strides):
        return inputs_per_group * math.prod(kern) >= 64
    wasted = math.prod(o + (k - 1) * d for o, k, d in zip(out[1:], kern[1:], dilations[1:])) / math.prod(out[1:])
    return wasted <= 1.1


def windowed_product(taps: list[np.ndarray], wmat: np.ndarray, rank: int, size: int, ones_row: bool = False
                     ) -> np.ndarray:
    """Products (N, group, M/group, size) of ``wmat`` (group, M/group, C/group * K) with the windows
    of a ``rank``-D convolution, given as one view (N, C, *kernel, *positions) or K views
    (N, C, *positions), one per kernel position (see window_taps). With ``ones_row``, ``wmat``
    has one more column, multiplied by a row of ones: the bias.

    The windows are copied (im2col) a cache-sized chunk of groups and leading positions at a
    time; entries past the positions are left unset.
    """
    group, mg, depth = wmat.shape
    depth -= ones_row
    n, c = taps[0].shape[:2]
    cg, kernel_axes = c // group, rank if len(taps) == 1 else 0
    positions = taps[0].shape[2 + kernel_axes :]
    rows, inner = positions[0], math.prod(positions[1:])
    per_row = n * (depth + ones_row) * inner
    row_step = min(rows, max(COLUMN_CHUNK // per_row, -(-MIN_COLUMNS // inner)))
    group_step = min(group, max(1, COLUMN_CHUNK // (per_row * row_step)))
    y = np.empty((n, group, mg, size), dtype=wmat.dtype)
    buffer = np.empty(per_row * row_step * group_step, dtype=wmat.dtype)
    lead = (slice(None),) * kernel_axes
    for g0 in range(0, group, group_step):
        g1 = min(group, g0 + group_step)
        for r0 in range(0, rows, row_step):
            r1 = min(rows, r0 + row_step)
            width = (r1 - r0) * inner
            product_input = buffer[: n * (g1 - g0) * (depth + ones_row) * width].reshape(n, g1 - g0, -1, width)
            if ones_row:
                product_input[:, :, depth] = 1
            # (N, groups, C/group, K or 1, rows, inner): only splits axes, so always a view
            cols = product_input[:, :, :depth].reshape(n, g1 - g0, cg, -1, r1 - r0, inner)
            block = cols.shape[3] // len(taps)
            for k, tap in enumerate(taps):
                src = tap[(slice(None), slice(g0 * cg, g1 * cg), *lead, slice(r0, r1))]
                src = src.reshape((n, g1 - g0, cg) + src.shape[2:])
                np.copyto(cols[:, :, :, k * block : (k + 1) * block].reshape(src.shape), src)
            np.matmul(wmat[g0:g1], product_input, out=y[:, g0:g1, :, r0 * inner : r1 * inner])
    return y


def shifted_product(x: np.ndarray, w: np.ndarray, group: int, kern, out, dilations, begin
                    ) -> tuple[np.ndarray, tuple[int, ...]]:
    """A unit-stride convolution as one product per kernel position, shifted and summed: the
    products (K * M/group, C/group) @ (C/group, positions) of all K kernel positions at once over
    the flat padded input, then each position's rows added at its offset. It moves K * M values
    per position where im2col moves K * C, so it wins when a convolution narrows its channels.

    Returns the products (N, group, M/group, size) over the flat grid (out[0], *padded[1:]) and
    that grid (see window_taps), entries past the last position left unset.
    """
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    mg, k = m // group, math.prod(kern)
    flat, padded = flat_padded(x, begin, out, kern, dilations)
    steps = [math.prod(padded[axis + 1 :]) for axis in range(len(kern))]
    offsets = [sum(i * d * st for i, d, st in zip(index, dilations, steps)) for index in np.ndindex(*kern)]
    count = sum((o - 1) * st for o, st in zip(out, steps)) + 1
    grid = (out[0], *padded[1:])
    wall = w.reshape(group, mg, cg, k).transpose(0, 3, 1, 2).reshape(group, k * mg, cg)
    y = np.empty((n, group, mg, math.prod(grid)), dtype=w.dtype)
    span = offsets[-1]
    step = max(span, MIN_COLUMNS, COLUMN_CHUNK // (n * k * m) - span)
    products = np.empty(n * group * k * mg * (min(step, count) + span), dtype=w.dtype)  # reused: one allocation
    for p0 in range(0, count, step):
        p1 = min(count, p0 + step)
        source = flat[:, :, p0 : p1 + span].reshape(n, group, cg, -1)
        z = products[: n * group * k * mg * (p1 - p0 + span)].reshape(n, group, k * mg, -1)
        np.matmul(wall, source, out=z)
        z = z.reshape(n, group, k, mg, -1)
        sum_into(y[..., p0:p1], [z[:, :, i, :, offset : offset + p1 - p0] for i, offset in enumerate(offsets)])
    return y, grid


def depthwise_rows(x: np.ndarray, w: np.ndarray, kern, out, dilations, begin) -> tuple[np.ndarray, tuple[int, ...]]:
    """A unit-stride 2-D depthwise convolution (one input channel per group) by kernel rows.

    Over the flat padded input, im2col copies only the kw horizontal taps; one product per
    channel, (M/C * kh, kw) @ (kw, positions), gives every kernel row's partial sums, and each
    output adds its kh rows' sums at their vertical offsets. That moves about 2*kw + kh values
    per position where full im2col moves 2*kh*kw (a 7x7 depthwise convolution at 56x56: 1.45
    -> 0.79 ms). Returns the products (N, C, M/C, size) over the flat grid (out[0], padded[1])
    and that grid, entries past the last position left unset (see window_taps).
    """
    n, c = x.shape[:2]
    mg = w.shape[0] // c
    (kh, kw), (dh, dw) = kern, dilations
    flat, padded = flat_padded(x, begin, out, kern, dilations)
    row = padded[1]
    count = (out[0] - 1) * row + out[1]
    rows_span = (kh - 1) * dh * row
    length = count + rows_span
    weights = w.reshape(c, mg, kh, kw).reshape(c, mg * kh, kw)
    y = np.empty((n, c, mg, out[0] * row), dtype=w.dtype)
    step = max(1, min(c, COLUMN_CHUNK // (n * (kw + mg * kh) * length)))
    columns = np.empty((n, step, kw, length), dtype=w.dtype)
    sums = np.empty((n, step, mg * kh, length), dtype=w.dtype)
    for c0 in range(0, c, step):
        c1 = min(c, c0 + step)
        cols, partial = columns[:, : c1 - c0], sums[:, : c1 - c0]
        for a in range(kw):
            np.copyto(cols[:, :, a], flat[:, c0:c1, a * dw : a * dw + length])
        np.matmul(weights[c0:c1], cols, out=partial)
        partial = partial.reshape(n, c1 - c0, mg, kh, length)
        sum_into(y[:, c0:c1, :, :count], [partial[:, :, :, b, b * dh * row : b * dh * row + count] for b in range(kh)])
    return y, (out[0], row)


def flat_padded(x: np.ndarray, begin, out, kern, dilations) -> tuple[np.ndarray, list[int]]:
    """``x`` zero-padded to the extent its unit-stride windows read, as (N, C, flat positions),
    and that extent per spatial axis."""
    padded = [o + e - 1 for o, e in zip(out, effective_kernel(kern, dilations))]
    return stride_phases(x, begin, (1,) * len(kern), padded)[:, :, 0], padded


def sum_into(target: np.ndarray, parts: list[np.ndarray]) -> None:
    """``target`` = the sum of ``parts`` (at least one), without temporaries."""
    if len(parts) == 1:
        np.copyto(target, parts[0])
        return
    np.add(parts[0], parts[1], out=target)
    for part in parts[2:]:
        target += part


def weights_with_bias_column(w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[W | b]: the (M, C/group * K) weight matrix with the bias as a last column (row i is output
    channel i, so it reshapes to (group, M/group, C/group * K + 1)), built once per session for
    initializers."""
    m = w.shape[0]
    return prepared((w, bias), ("bias column", w.dtype), lambda: np.concatenate(
        [w.reshape(m, -1), np.asarray(bias, dtype=w.dtype).reshape(m, 1)], axis=1))


def widening_product_with_bias(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[W | b] @ [x; 1] for a 1x1 convolution ``w`` (M, C, 1...) of ``x`` (N, C, positions) with
    M > C: copying the narrower input once beside a row of ones costs less than a broadcast
    bias pass over the wider output (MobileNetV2's and ResNet's expanding 1x1 convolutions)."""
    n, c, size = x.shape
    weights = weights_with_bias_column(w, bias)
    extended = np.empty((n, c + 1, size), dtype=w.dtype)
    extended[:, :c] = x
    extended[:, c] = 1
    return np.matmul(weights, extended)


def channel_bias(b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bias ``b`` (M,) shaped to broadcast over ``y`` (N, M, ...)."""
    return np.asarray(b, dtype=y.dtype).reshape((-1,) + (1,) * (y.ndim - 2))


def add_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y`` (N, M, ...) plus a per-channel bias, in place."""
    if b is not None:
        y += channel_bias(b, y)
    return y


@kernel("Conv", since=1)
def conv(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    """N-D convolution with groups, strides, dilations and padding."""
    return convolve(x, w, b, auto_pad, dilations, group, kernel_shape, pads, strides)


def convolve(x, w, b, auto_pad, dilations, group, kernel_shape, pads, strides, cropped_view: bool = False):
    """Conv's result in x's type; ``cropped_view`` as in conv_core (float32/float64 inputs only)."""
    ct = compute_dtype(x.dtype)
    geometry = conv_geometry(x, w, group, kernel_shape, strides, dilations, pads, auto_pad)
    y = conv_core(x.astype(ct, copy=False), w.astype(ct, copy=False), group, *geometry, bias=b,
                  cropped_view=cropped_view and ct == x.dtype)
    return y.astype(x.dtype, copy=False)


def integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad):
    """Exact sum of (x - x_zero_point) * (w - w_zero_point) products, as float64 (N, M, *out)."""
    geometry = conv_geometry(x, w, group, kernel_shape, strides, dilations, pads, auto_pad)
    xf = x.astype(np.float64)
    wf = w.astype(np.float64)
    if x_zero_point is not None:
        if np.size(x_zero_point) != 1:
            raise ValueError("x_zero_point must be a scalar (per-tensor quantization)")
        xf -= float(np.asarray(x_zero_point).reshape(-1)[0])
    if w_zero_point is not None:
        wf -= np.asarray(w_zero_point, dtype=np.float64).reshape((-1,) + (1,) * (w.ndim - 1))
    return conv_core(xf, wf, group, *geometry)


@kernel("ConvInteger", since=10)
def conv_integer(
    x, w, x_zero_point=None, w_zero_point=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    """Integer convolution with zero points; int32 output."""
    y = integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad)
    return y.astype(np.int32)


@kernel("QLinearConv", since=10)
def qlinear_conv(
    x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, b=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    """Quantized convolution: requantizes the int32 accumulator (plus B) to y's scale and zero point."""
    acc = integer_conv(x, w, x_zero_point, w_zero_point, group, kernel_shape, strides, dilations, pads, auto_pad)
    acc = add_bias(acc, b)
    channel = (-1,) + (1,) * (acc.ndim - 2)
    scale = (
        np.asarray(x_scale, dtype=np.float64).reshape(-1)[0]
        * np.asarray(w_scale, dtype=np.float64).reshape(channel)
        / np.asarray(y_scale, dtype=np.float64).reshape(-1)[0]
    )
    out_dtype = np.asarray(y_zero_point).dtype
    info = np.iinfo(out_dtype)
    y = np.rint(acc * scale) + np.asarray(y_zero_point, dtype=np.float64).reshape(-1)[0]
    return np.clip(y, info.min, info.max).astype(out_dtype)


def conv_transpose_geometry(x, w, strides, dilations, pads, auto_pad, output_padding, output_shape_):
    """Kernel, strides, dilations, begin pads and final output size of a transposed convolution."""
    rank = x.ndim - 2
    kern = tuple(w.shape[2:])
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    out_pad = spatial_attr(output_padding, rank, 0, "output_padding")
    extents = effective_kernel(kern, dilations)
    full = [s * (i - 1) + op + k for s, i, op, k in zip(strides, x.shape[2:], out_pad, extents)]
    if output_shape_:
        target = list(output_shape_)[-rank:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # input * stride, unless that would need negative padding (pads are never negative)
        target = [min(i * s, f) for i, s, f in zip(x.shape[2:], strides, full)]
    else:
        begin, end = resolve_pads(auto_pad, pads, x.shape[2:], kern, strides, dilations)
        return kern, strides, dilations, begin, tuple(f - b - e for f, b, e in zip(full, begin, end))
    totals = [f - t for f, t in zip(full, target)]
    begin = tuple(t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals)
    return kern, strides, dilations, begin, tuple(target)


@kernel("ConvTranspose", since=1)
def conv_transpose(
    x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
    output_padding=None, output_shape=None, pads=None, strides=None,
):
    """N-D transposed convolution: matmul by W^T, then col2im scatter-add."""
    if x.ndim < 3 or w.ndim != x.ndim or x.shape[1] != w.shape[0] or x.shape[1] % group:
        raise ValueError(f"ConvTranspose: X {x.shape} and W {w.shape} do not match group={group}")
    kern, strides, dilations, begin, out = conv_transpose_geometry(
        x, w, strides, dilations, pads, auto_pad, output_padding, output_shape
    )
    if min(begin) < 0:
        raise ValueError(f"ConvTranspose: output_shape {list(out)} needs negative padding")
    ct = compute_dtype(x.dtype)
    n, c = x.shape[:2]
    cg, mg, k = c // group, w.shape[1], math.prod(kern)
    wt = w.astype(ct, copy=False).reshape(group, cg, mg * k).transpose(0, 2, 1)
    cols = np.matmul(wt, x.astype(ct, copy=False).reshape(n, group, cg, -1))
    cols = cols.reshape((n, group * mg, k) + x.shape[2:])
    extent = [(i - 1) * s + e for i, s, e in zip(x.shape[2:], strides, effective_kernel(kern, dilations))]
    sizes = [max(e, b + o) for e, b, o in zip(extent, begin, out)]
    image = col2im(cols, kern, x.shape[2:], strides, dilations, sizes)
    y = image[(..., *(slice(b, b + o) for b, o in zip(begin, out)))]
    return add_bias(np.ascontiguousarray(y), b).astype(x.dtype, copy=False)


@kernel("Col2Im", since=18)
def col2im_(x, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    """Rearranges column blocks (N, C*prod(block), L) into an image (N, C, *image_shape)."""
    image = tuple(int(v) for v in np.asarray(image_shape).reshape(-1))
    block = tuple(int(v) for v in np.asarray(block_shape).reshape(-1))
    rank = len(image)
    strides = spatial_attr(strides, rank, 1, "strides")
    dilations = spatial_attr(dilations, rank, 1, "dilations")
    begin, end = resolve_pads("NOTSET", pads, image, block, strides, dilations)
    blocks = output_shape(image, block, strides, dilations, begin, end)
    k = math.prod(block)
    if x.ndim != 3 or x.shape[1] % k or x.shape[2] != math.prod(blocks):
        raise ValueError(f"Col2Im: input {x.shape} does not match block {block} and {math.prod(blocks)} blocks")
    cols = x.reshape((x.shape[0], x.shape[1] // k, k) + blocks)
    sizes = [i + b + e for i, b, e in zip(image, begin, end)]
    padded = col2im(cols, block, blocks, strides, dilations, sizes)
    return np.ascontiguousarray(padded[(..., *(slice(b, b + i) for b, i in zip(begin, image)))])


def deformed_columns(
    x: np.ndarray, offset: np.ndarray, mask, offset_group: int, kern, strides, dilations, begin, out
) -> np.ndarray:
    """im2col columns (N, C, K, P) sampled at offset positions by multilinear interpolation."""
    n, c = x.shape[:2]
    rank, k, p = len(kern), math.prod(kern), math.prod(out)
    in_shape = x.shape[2:]
    if c % offset_group or offset.shape != (n, offset_group * k * rank) + tuple(out):
        raise ValueError(f"DeformConv: offset shape {offset.shape} does not match offset_group={offset_group}")
    shifts = offset.reshape(n, offset_group, k, rank, p)
    kpos = np.indices(kern).reshape(rank, k, 1)
    opos = np.indices(out).reshape(rank, 1, p)
    weight_mask = np.ones((n, offset_group, k, p), dtype=x.dtype) if mask is None else mask.reshape(
        n, offset_group, k, p).astype(x.dtype, copy=False)
    lows, fracs = [], []
    for axis in range(rank):
        pos = (opos[axis] * strides[axis] - begin[axis] + kpos[axis] * dilations[axis]) + shifts[:, :, :, axis]
        low = np.floor(pos)
        lows.append(low.astype(np.int64))
        fracs.append((pos - low).astype(x.dtype))
    source = x.reshape(n, offset_group, c // offset_group, -1)
    cols = np.zeros((n, offset_group, c // offset_group, k * p), dtype=x.dtype)
    for corner in np.ndindex(*(2,) * rank):
        flat = np.zeros(lows[0].shape, dtype=np.int64)
        weight = weight_mask.copy()
        for axis, bit in enumerate(corner):
            idx = lows[axis] + bit
            weight *= fracs[axis] if bit else 1 - fracs[axis]
            weight *= (idx >= 0) & (idx < in_shape[axis])
            flat = flat * in_shape[axis] + np.clip(idx, 0, in_shape[axis] - 1)
        shape = (n, offset_group, 1, k * p)
        cols += np.take_along_axis(source, flat.reshape(shape), axis=3) * weight.reshape(shape)
    return cols.reshape(n, c, k, p)


@kernel("DeformConv", since=19)
def deform_conv(
    x, w, offset, b=None, mask=None, *,
    dilations=None, group=1, kernel_shape=None, offset_group=1, pads=None, strides=None,
):
    """Deformable convolution: each kernel tap samples X at its own learned offset, scaled by mask."""
    ct = compute_dtype(x.dtype)
    geometry = conv_geometry(x, w, group, kernel_shape, strides, dilations, pads, "NOTSET")
    kern, strides, dilations, begin, out = geometry
    cols = deformed_columns(x.astype(ct, copy=False), offset.astype(ct, copy=False), mask, offset_group,
                            kern, strides, dilations, begin, out)
    n, m = x.shape[0], w.shape[0]
    cols = cols.reshape(n, group, -1, cols.shape[-1])
    y = np.matmul(w.astype(ct, copy=False).reshape(group, m // group, -1), cols).reshape((n, m) + out)
    return add_bias(y, b).astype(x.dtype, copy=False)


@kernel("CausalConvWithState", since=27)
def causal_conv_with_state(x, weight, bias=None, past_state=None, *, activation="none"):
    """Causal depthwise 1-D convolution carrying the last k-1 inputs as state; optional fused SiLU."""
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"unsupported activation '{activation}'")
    n, c, length = x.shape
    k = weight.shape[-1]
    ct = compute_dtype(x.dtype)
    if past_state is None:
        past_state = np.zeros((n, c, k - 1), dtype=x.dtype)
    seq = np.concatenate([past_state, x], axis=2).astype(ct, copy=False)
    y = conv_core(seq, weight.astype(ct, copy=False).reshape(c, 1, k), c, (k,), (1,), (1,), (0,), (length,))
    y = add_bias(y, bias)
    if activation != "none":
        y = y / (1 + np.exp(-y))
    present = np.ascontiguousarray(seq[:, :, seq.shape[2] - (k - 1):]).astype(x.dtype, copy=False)
    return y.astype(x.dtype, copy=False), present
