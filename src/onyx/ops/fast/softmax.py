"""Compiled Softmax and LogSoftmax over the last axis: per row, its maximum, the exponentials
and their sum, and the normalized row, in one pass over the row's memory, float32 and
float64, rows shared over the run's threads."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from onyx.compiled import jit, named, parallel_for, readonly
from onyx.ops.fast import compile_for, compiled_types

_SIGNATURES = tuple(f"void(int64, int64, {readonly(t, 2)}, {t}[:,::1])" for t in ("float32", "float64"))


@jit(*_SIGNATURES, error_model="numpy", fastmath={"reassoc", "contract"})
def _softmax_rows(start, stop, x, out):
    width = x.shape[1]
    for r in range(start, stop):
        top = x[r, 0]
        for i in range(1, width):
            b = x[r, i]
            top = b if (b > top) | (b != b) else top
        total = x.dtype.type(0)
        for i in range(width):
            e = math.exp(x[r, i] - top)
            out[r, i] = e
            total += e
        inverse = x.dtype.type(1) / total
        for i in range(width):
            out[r, i] *= inverse


@jit(*_SIGNATURES, error_model="numpy", fastmath={"reassoc", "contract"})
def _log_softmax_rows(start, stop, x, out):
    width = x.shape[1]
    for r in range(start, stop):
        top = x[r, 0]
        for i in range(1, width):
            b = x[r, i]
            top = b if (b > top) | (b != b) else top
        total = x.dtype.type(0)
        for i in range(width):
            total += math.exp(x[r, i] - top)
        shift = top + math.log(total)
        for i in range(width):
            out[r, i] = x[r, i] - shift


def _over_last_axis(function: Any, node: Any, numpy_kernel: Callable[..., Any], axis: int,
                    name: str) -> Callable[..., Any] | None:
    types = compiled_types(node)
    compiled = compile_for(function, types) if types else None
    if compiled is None:
        return None
    loop, dtypes = compiled

    def run(x):
        if x.dtype not in dtypes or x.ndim == 0 or axis not in (-1, x.ndim - 1) or x.size == 0:
            return numpy_kernel(x)
        width = x.shape[-1]
        rows = np.ascontiguousarray(x).reshape(-1, width)
        out = np.empty_like(rows)
        parallel_for(loop, rows.shape[0], rows, out, grain=max(1, (1 << 16) // width))
        return out.reshape(x.shape)

    return named(run, name)


def choose_softmax(node: Any, numpy_kernel: Callable[..., Any], *, axis: int = -1) -> Callable[..., Any] | None:
    """Softmax (opset 13 on) over the last axis."""
    return _over_last_axis(_softmax_rows, node, numpy_kernel, axis, "compiled:softmax")


def choose_log_softmax(node: Any, numpy_kernel: Callable[..., Any], *, axis: int = -1) -> Callable[..., Any] | None:
    """LogSoftmax (opset 13 on) over the last axis."""
    return _over_last_axis(_log_softmax_rows, node, numpy_kernel, axis, "compiled:log_softmax")
