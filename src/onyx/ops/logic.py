"""Comparisons, boolean logic, bitwise ops, Where, IsNaN and IsInf."""

from __future__ import annotations

import numpy as np

from onyx.ops.math import register_binary
from onyx.ops.registry import kernel


def _compare(ufunc: np.ufunc):
    def compare(a, b):
        return np.asarray(ufunc(a, b), dtype=bool)

    compare.__name__ = ufunc.__name__
    return compare


register_binary("Equal", _compare(np.equal), legacy=(1,))
register_binary("Greater", _compare(np.greater), legacy=(1,))
register_binary("Less", _compare(np.less), legacy=(1,))
kernel("GreaterOrEqual", since=12)(_compare(np.greater_equal))
kernel("LessOrEqual", since=12)(_compare(np.less_equal))

register_binary("And", np.logical_and, legacy=(1,))
register_binary("Or", np.logical_or, legacy=(1,))
register_binary("Xor", np.logical_xor, legacy=(1,))


@kernel("Not", since=1)
def not_(x):
    return np.logical_not(x)


# -- bitwise -------------------------------------------------------------------------


@kernel("BitShift", since=11)
def bit_shift(x, y, *, direction=None):
    """Shift ``x`` by ``y`` bits; shifts that are negative or >= the bit width leave only the sign fill."""
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    bits = x.dtype.itemsize * 8
    out_of_range = (y >= bits) | (y < 0) if y.dtype.kind == "i" else y >= bits
    shift = np.where(out_of_range, 0, y).astype(x.dtype)
    if direction == "LEFT":
        shifted = np.left_shift(x, shift)
        fill = np.zeros((), dtype=x.dtype)
    else:
        shifted = np.right_shift(x, shift)
        fill = np.where(x < 0, -1, 0).astype(x.dtype) if x.dtype.kind == "i" else np.zeros((), dtype=x.dtype)
    if not out_of_range.any():
        return shifted
    return np.where(out_of_range, fill, shifted).astype(x.dtype, copy=False)


@kernel("BitwiseAnd", since=18)
def bitwise_and(a, b):
    return np.bitwise_and(a, b)


@kernel("BitwiseOr", since=18)
def bitwise_or(a, b):
    return np.bitwise_or(a, b)


@kernel("BitwiseXor", since=18)
def bitwise_xor(a, b):
    return np.bitwise_xor(a, b)


@kernel("BitwiseNot", since=18)
def bitwise_not(x):
    return np.invert(x)


# -- selection and classification ------------------------------------------------------


@kernel("Where", since=9)
def where(condition, x, y):
    return np.where(condition, x, y).astype(x.dtype, copy=False)


@kernel("IsNaN", since=9)
def is_nan(x):
    return np.isnan(x)


@kernel("IsInf", since=10)
def is_inf(x, *, detect_negative=1, detect_positive=1):
    if detect_negative and detect_positive:
        return np.isinf(x)
    if detect_positive:
        return np.isinf(x) & (x > 0)
    if detect_negative:
        return np.isinf(x) & (x < 0)
    return np.zeros(x.shape, dtype=bool)
