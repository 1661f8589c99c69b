"""Compiled grouped convolutions (the ``[fast]`` extra): 2-D convolutions with few input channels
per group (depthwise above all) computed directly, no im2col, the bias added in the pass that
writes each output row.

For each output plane (image, output channel) and output row, every kernel tap adds its weight
times a row of the input: with unit strides the inner loop reads and writes contiguous rows and
vectorises. The taps that fall in the padding are skipped by clipping each row's range instead
of padding the input. The planes are shared among the run's intra-op threads.
"""

from __future__ import annotations

import numpy as np

from onyx.compiled import jit, parallel_for


def _signature(real: str) -> str:
    # start, stop, x (N, C, H, W), w (M, C/group, kh, kw), bias (M,), strides, dilations, begin pads,
    # residual (y's shape, or empty), clamp low and high, y
    return (f"void(int64, int64, {real}[:, :, :, ::1], {real}[:, :, :, ::1], {real}[::1], int64, int64, int64, "
            f"int64, int64, int64, {real}[:, :, :, ::1], {real}, {real}, {real}[:, :, :, ::1])")


@jit(_signature("float32"), _signature("float64"))
def _grouped(start, stop, x, w, bias, sh, sw, dh, dw, ph, pw, residual, low, high, y):
    """y[plane] = clamp(conv + bias + residual, low, high) for planes (image * M + output channel)
    in [start, stop); the epilogue runs on each output row while it is in cache."""
    height, width = x.shape[2], x.shape[3]
    outputs, per_group, kh, kw = w.shape
    out_h, out_w = y.shape[2], y.shape[3]
    outputs_per_group = outputs // (x.shape[1] // per_group)
    for plane in range(start, stop):
        n, m = plane // outputs, plane % outputs
        first_channel = (m // outputs_per_group) * per_group
        for oh in range(out_h):
            row = y[n, m, oh]
            for ow in range(out_w):
                row[ow] = bias[m]
            for c in range(per_group):
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= height:
                        continue
                    x_row = x[n, first_channel + c, ih]
                    for j in range(kw):
                        offset = j * dw - pw  # input column = ow * sw + offset
                        lo = max(0, (-offset + sw - 1) // sw)
                        hi = min(out_w, max(0, (width - offset + sw - 1) // sw))
                        if hi <= lo:
                            continue
                        weight = w[m, c, i, j]
                        # slices, so that the loop indexes from 0 (no negative-index checks: it vectorises)
                        target, source = row[lo:hi], x_row[lo * sw + offset : (hi - 1) * sw + offset + 1 : sw]
                        for k in range(hi - lo):
                            target[k] += weight * source[k]
            if residual.size:
                add = residual[n, m, oh]
                for ow in range(out_w):
                    row[ow] += add[ow]
            if low > -np.inf or high < np.inf:
                for ow in range(out_w):
                    row[ow] = min(max(row[ow], low), high)


def available() -> bool:
    """Whether the compiled convolution compiles (at session creation; False without Numba)."""
    return _grouped.compiled() is not None


def grouped_conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray, strides, dilations, begin, out,
                 residual: np.ndarray | None = None, clamp: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """clamp(Conv + ``bias`` + ``residual``): the (N, M, *out) result for 2-D ``x`` and ``w`` (M,
    C/group, kh, kw) of one float type (the group count follows from their channels), ``bias``
    (M,) and ``residual`` (N, M, *out) added and the result clamped to ``clamp`` (Relu, Clip) in
    the pass that writes each output row."""
    n, m = x.shape[0], w.shape[0]
    y = np.empty((n, m, *out), dtype=w.dtype)
    residual = (np.empty((0, 0, 0, 0), dtype=w.dtype) if residual is None
                else _readable(residual.astype(w.dtype, copy=False)))
    work = out[0] * out[1] * w[0].size
    real = w.dtype.type
    parallel_for(_grouped, n * m, _readable(x), w, bias, *strides, *dilations, *begin, residual, real(clamp[0]),
                 real(clamp[1]), y, grain=max(1, (1 << 16) // max(1, work)))
    return y


def _readable(a: np.ndarray) -> np.ndarray:
    """``a`` as the compiled loop's argument type, a C-contiguous writeable array (it only reads it)."""
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")
