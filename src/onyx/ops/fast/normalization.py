"""Compiled LayerNormalization over the trailing axes: one row at a time, its mean and
variance summed in float64 and the normalized, scaled and shifted row written in one pass,
for float32 inputs with stash_type 1 (the statistics' type is then the input's), rows shared
over the run's threads."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from onyx.compiled import jit, named, parallel_for, readonly
from onyx.ops.fast import compiled_types

_SIGNATURES = (f"void(int64, int64, {readonly('float32', 2)}, {readonly('float32', 1)}, {readonly('float32', 1)}, "
               "float64, float32[:,::1], float32[::1], float32[::1])",)


@jit(*_SIGNATURES, error_model="numpy", fastmath={"reassoc", "contract"})
def _layer_norm_rows(start, stop, x, scale, bias, epsilon, out, means, inv_stds):
    """out[r] = (x[r] - mean) / sqrt(var + epsilon) * scale + bias for rows r in [start, stop)."""
    width = x.shape[1]
    for r in range(start, stop):
        total = 0.0
        for i in range(width):
            total += x[r, i]
        mean = total / width
        spread = 0.0
        for i in range(width):
            d = x[r, i] - mean
            spread += d * d
        inv_std = 1.0 / math.sqrt(spread / width + epsilon)
        m, s = x.dtype.type(mean), x.dtype.type(inv_std)
        for i in range(width):
            out[r, i] = (x[r, i] - m) * s * scale[i] + bias[i]
        means[r] = m
        inv_stds[r] = s


def choose_layer_normalization(node: Any, numpy_kernel: Callable[..., Any], *, axis: int = -1,
                               epsilon: float = 1e-5, stash_type: int = 1,
                               all_outputs: bool = True) -> Callable[..., Any] | None:
    """A compiled LayerNormalization returning (Y, Mean, InvStdDev), or Y alone when not ``all_outputs``."""
    if stash_type != 1 or "float32" not in (compiled_types(node) or ()):
        return None
    loop = _layer_norm_rows.compiled()
    if loop is None:
        return None

    def run(x, scale, b=None):
        ndim = x.ndim
        start = axis + ndim if axis < 0 else axis
        if x.dtype != np.float32 or not 0 <= start < ndim or scale.dtype != x.dtype or (
                b is not None and b.dtype != x.dtype):
            return numpy_kernel(x, scale, b)
        width = math.prod(x.shape[start:])
        rows = math.prod(x.shape[:start])
        if width == 0 or scale.size != width or (b is not None and b.size != width) or (
                scale.ndim and scale.shape != x.shape[ndim - scale.ndim:]):
            return numpy_kernel(x, scale, b)
        flat = np.ascontiguousarray(x).reshape(rows, width)
        shift = np.zeros(width, x.dtype) if b is None else np.ascontiguousarray(b).reshape(width)
        out = np.empty_like(flat)
        means = np.empty(rows, x.dtype)
        inv_stds = np.empty(rows, x.dtype)
        parallel_for(loop, rows, flat, np.ascontiguousarray(scale).reshape(width), shift, float(epsilon),
                     out, means, inv_stds, grain=max(1, (1 << 16) // width))
        y = out.reshape(x.shape)
        if not all_outputs:
            return y
        kept = x.shape[:start] + (1,) * (ndim - start)
        return y, means.reshape(kept), inv_stds.reshape(kept)

    return named(run, "compiled:layer_norm")


def choose_layer_normalization_y(node: Any, numpy_kernel: Callable[..., Any], **attrs: Any) -> Callable[..., Any] | None:
    """The same, for the kernels whose only output is Y (onyx's LayerNormalization for older opsets)."""
    return choose_layer_normalization(node, numpy_kernel, all_outputs=False, **attrs)
