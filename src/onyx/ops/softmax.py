"""Softmax, LogSoftmax and Hardmax.

Before opset 13 the input is coerced to 2-D, [prod(shape[:axis]), prod(shape[axis:])],
and the op runs over the second dimension (default axis 1); from opset 13 on it runs
over the single ``axis`` (default -1).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from onyx.ops.math import float_math
from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = x - np.max(x, axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _hardmax(x: np.ndarray, axis: int) -> np.ndarray:
    """1 at the first maximum along ``axis``, 0 elsewhere."""
    first = np.expand_dims(np.argmax(x, axis=axis), axis)
    out = np.zeros(x.shape, dtype=x.dtype)
    np.put_along_axis(out, first, 1, axis=axis)
    return out


def _over_axis(fn: Callable[[np.ndarray, int], np.ndarray], x: np.ndarray, axis: int) -> np.ndarray:
    """Opset 13+: ``fn`` along one axis."""
    return fn(x, normalize_axis(axis, x.ndim))


def _coerced_2d(fn: Callable[[np.ndarray, int], np.ndarray], x: np.ndarray, axis: int) -> np.ndarray:
    """Opsets 1-12: ``fn`` over the flattened dimensions from ``axis`` on."""
    axis = normalize_axis(axis, x.ndim) if x.ndim else 0
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    cols = int(np.prod(x.shape[axis:], dtype=np.int64))
    return fn(x.reshape(rows, cols), 1).reshape(x.shape)


@kernel("Softmax", since=1)
@float_math
def softmax_v1(x, *, axis=1):
    return _coerced_2d(_softmax, x, axis)


@kernel("Softmax", since=13)
@float_math
def softmax(x, *, axis=-1):
    return _over_axis(_softmax, x, axis)


@kernel("LogSoftmax", since=1)
@float_math
def log_softmax_v1(x, *, axis=1):
    return _coerced_2d(_log_softmax, x, axis)


@kernel("LogSoftmax", since=13)
@float_math
def log_softmax(x, *, axis=-1):
    return _over_axis(_log_softmax, x, axis)


@kernel("Hardmax", since=1)
def hardmax_v1(x, *, axis=1):
    return _coerced_2d(_hardmax, x, axis)


@kernel("Hardmax", since=13)
def hardmax(x, *, axis=-1):
    return _over_axis(_hardmax, x, axis)
