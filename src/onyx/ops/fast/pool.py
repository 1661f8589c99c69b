"""Compiled pools: 2-D MaxPool and AveragePool (per output row, the window's input rows
combined in one contiguous pass, then each window along that row; no padded copy of the
input), float32 and float64, planes shared over the run's threads.

Measured against the NumPy kernels (CPU time of one thread, bench/compiled_nodes.py has
the session-level numbers): 3x3/2 max pool over 64x112x112 2.2-4.1 -> 1.1-1.8 ms, 2x2/2 over
128x112x112 2.3-5.3 -> 1.3-2.4 ms, average pools 2-4x faster. Not chosen: stride-1 pools over
rows under 64 wide (NumPy's whole-array passes win there), GlobalMaxPool (NumPy's max is as
fast or faster) and GlobalAveragePool: a vectorized float64 sum (0.13 -> 0.045 ms over
2048x7x7) rounds differently from NumPy's float32 pairwise mean, which the light SqueezeNet's
softmax over logits near 1e9 shows, and a loop summing in NumPy's order measured no faster."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from onyx.compiled import jit, named, parallel_for, readonly
from onyx.ops.fast import compile_for, compiled_types, declared_shape

_WINDOW_SIGNATURES = tuple(
    f"void(int64, int64, {readonly(t, 3)}, {t}[:,:,::1], int64[::1])" for t in ("float32", "float64")
)


@jit(*_WINDOW_SIGNATURES, error_model="numpy")
def _max_pool_planes(start, stop, x, out, geometry):
    """out[p] = max over each window of x[p] (p in [start, stop)); padding never wins; NaN
    propagates. Per output row: the max of the window's input rows (a contiguous pass), then
    the max along each window of that row, read from a -inf padded copy (no bounds checks).
    geometry: kernel h, w; strides h, w; dilations h, w; begin pads h, w."""
    kh, kw, sh, sw, dh, dw, ph, pw = geometry[0], geometry[1], geometry[2], geometry[3], \
        geometry[4], geometry[5], geometry[6], geometry[7]
    height, width = x.shape[1], x.shape[2]
    out_h, out_w = out.shape[1], out.shape[2]
    row = np.empty(max(width + pw, (out_w - 1) * sw + (kw - 1) * dw + 1), x.dtype)
    inner = row[pw:pw + width]
    for p in range(start, stop):
        for oh in range(out_h):
            for w in range(row.size):
                row[w] = -np.inf
            for i in range(kh):
                h = oh * sh - ph + i * dh
                if 0 <= h < height:
                    for w in range(width):
                        a, b = inner[w], x[p, h, w]
                        inner[w] = b if (b > a) | (b != b) else a
            if sw == 1:  # contiguous: one vectorizable pass per window column
                for ow in range(out_w):
                    out[p, oh, ow] = row[ow]
                for j in range(1, kw):
                    for ow in range(out_w):
                        a, b = out[p, oh, ow], row[ow + j * dw]
                        out[p, oh, ow] = b if (b > a) | (b != b) else a
            else:
                for ow in range(out_w):
                    m = row[ow * sw]
                    for j in range(1, kw):
                        b = row[ow * sw + j * dw]
                        m = b if (b > m) | (b != b) else m
                    out[p, oh, ow] = m


@jit(*_WINDOW_SIGNATURES, error_model="numpy")
def _average_pool_planes(start, stop, x, out, geometry):
    """out[p] = mean over each window of x[p], as the max pool above with sums; geometry as for
    max pool, then count_include_pad and the end pads h, w (the padded extent that counts)."""
    kh, kw, sh, sw, dh, dw, ph, pw = geometry[0], geometry[1], geometry[2], geometry[3], \
        geometry[4], geometry[5], geometry[6], geometry[7]
    include_pad, eh, ew = geometry[8], geometry[9], geometry[10]
    height, width = x.shape[1], x.shape[2]
    out_h, out_w = out.shape[1], out.shape[2]
    count_w = np.zeros(out_w, x.dtype)
    lo_w, hi_w = (-pw, width + ew) if include_pad else (0, width)
    for ow in range(out_w):
        for j in range(kw):
            if lo_w <= ow * sw - pw + j * dw < hi_w:
                count_w[ow] += 1
    lo_h, hi_h = (-ph, height + eh) if include_pad else (0, height)
    row = np.zeros(max(width + pw, (out_w - 1) * sw + (kw - 1) * dw + 1), x.dtype)
    inner = row[pw:pw + width]
    for p in range(start, stop):
        for oh in range(out_h):
            for w in range(width):
                inner[w] = 0
            count_h = 0
            for i in range(kh):
                h = oh * sh - ph + i * dh
                count_h += lo_h <= h < hi_h
                if 0 <= h < height:
                    for w in range(width):
                        inner[w] += x[p, h, w]
            if sw == 1:  # contiguous: one vectorizable pass per window column
                for ow in range(out_w):
                    out[p, oh, ow] = row[ow]
                for j in range(1, kw):
                    for ow in range(out_w):
                        out[p, oh, ow] += row[ow + j * dw]
                for ow in range(out_w):
                    out[p, oh, ow] /= count_h * count_w[ow]
            else:
                for ow in range(out_w):
                    total = row[ow * sw]
                    for j in range(1, kw):
                        total += row[ow * sw + j * dw]
                    out[p, oh, ow] = total / (count_h * count_w[ow])


def _window_geometry(x: np.ndarray, attrs: dict[str, Any]) -> tuple[tuple[int, int], np.ndarray] | None:
    """(output size, geometry vector) of a 2-D window pool on ``x``, as the NumPy kernel computes
    them; None for one window over the whole input, which the NumPy kernel computes as a global
    pool (and the compiled loop would sum in another order)."""
    from onyx.ops.pool import PoolGeometry

    g = PoolGeometry(x, attrs.get("kernel_shape"), attrs.get("strides"), attrs.get("dilations"),
                     attrs.get("pads"), attrs.get("auto_pad", "NOTSET"), attrs.get("ceil_mode", 0))
    if g.whole_input:
        return None
    end = [max(0, e) for e in g.end]
    vector = [*g.kernel, *g.strides, *g.dilations, *g.begin, int(attrs.get("count_include_pad", 0)), *end]
    return g.out, np.array(vector, np.int64)


# Below this width a stride-1 pool's rows are too short for the vectorized loops: NumPy's
# separable passes over whole arrays measured faster (3x3 over 192x28x28: 0.45 ms against 1.0 ms).
_MIN_WIDTH_AT_STRIDE_1 = 64


def _planes_grain(plane_work: int) -> int:
    """How many planes make a share worth a thread (about 64K element reads)."""
    return max(1, (1 << 16) // max(1, plane_work))


def _window_pool(compiled: tuple[Any, frozenset], numpy_kernel: Callable[..., Any], attrs: dict[str, Any],
                 name: str) -> Callable[..., Any]:
    geometries: dict[tuple[int, ...], tuple[tuple[int, int], np.ndarray] | None] = {}
    loop, dtypes = compiled

    def run(x):
        if x.ndim != 4 or x.dtype not in dtypes or 0 in x.shape:
            return numpy_kernel(x)
        geometry = geometries.get(x.shape, False)
        if geometry is False:
            geometry = geometries[x.shape] = _window_geometry(x, attrs)
        if geometry is None:
            return numpy_kernel(x)
        (out_h, out_w), vector = geometry
        if vector[3] == 1 and x.shape[3] < _MIN_WIDTH_AT_STRIDE_1:
            return numpy_kernel(x)
        n, c, height, width = x.shape
        planes = np.ascontiguousarray(x).reshape(n * c, height, width)
        out = np.empty((n * c, out_h, out_w), x.dtype)
        work = out_h * out_w * math.prod(attrs["kernel_shape"])
        parallel_for(loop, n * c, planes, out, vector, grain=_planes_grain(work))
        return out.reshape(n, c, out_h, out_w)

    return named(run, name)


def _covered_window(node: Any, attrs: dict[str, Any]) -> bool:
    """A 2-D pool with one output, not one whose declared input is too narrow for stride 1."""
    kernel_shape = attrs.get("kernel_shape")
    if kernel_shape is None or len(kernel_shape) != 2 or attrs.get("_num_outputs", 1) != 1:
        return False
    shape = declared_shape(node, 0)
    stride_w = (attrs.get("strides") or [1, 1])[-1]
    narrow = shape is not None and len(shape) == 4 and shape[3] is not None and shape[3] < _MIN_WIDTH_AT_STRIDE_1
    return not (narrow and stride_w == 1)


def choose_max_pool(node: Any, numpy_kernel: Callable[..., Any], **attrs: Any) -> Callable[..., Any] | None:
    """A compiled 2-D MaxPool (values only; the argmax output stays with NumPy)."""
    types = compiled_types(node)
    compiled = compile_for(_max_pool_planes, types) if types and _covered_window(node, attrs) else None
    return None if compiled is None else _window_pool(compiled, numpy_kernel, attrs, "compiled:max_pool_2d")


def choose_average_pool(node: Any, numpy_kernel: Callable[..., Any], **attrs: Any) -> Callable[..., Any] | None:
    """A compiled 2-D AveragePool."""
    types = compiled_types(node)
    compiled = compile_for(_average_pool_planes, types) if types and _covered_window(node, attrs) else None
    return None if compiled is None else _window_pool(compiled, numpy_kernel, attrs, "compiled:average_pool_2d")

