"""Elementwise arithmetic: binary and variadic ops, unary math functions, Clip.

Opsets 1 and 6 of the binary ops carry the legacy ``broadcast``/``axis``
attributes; from opset 7 on, inputs
broadcast NumPy-style.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import ml_dtypes
import numpy as np
from numpy.polynomial import chebyshev

from onyx.compiled import compiled_variant
from onyx.ops.registry import kernel

_HALF_FLOATS = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
IEEE_FLOATS = frozenset(map(np.dtype, (np.float16, np.float32, np.float64)))  # NumPy's native float types


def is_half(dtype: np.dtype) -> bool:
    """True for float16 and bfloat16, whose math is done in float32."""
    return dtype in _HALF_FLOATS


def float_math(fn: Callable) -> Callable:
    """Run ``fn(x, ...)`` in float32 for float16/bfloat16 ``x`` and return ``x``'s dtype."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        if is_half(x.dtype):
            return np.asarray(fn(x.astype(np.float32), *args, **kwargs)).astype(x.dtype)
        return np.asarray(fn(x, *args, **kwargs)).astype(x.dtype, copy=False)

    return wrapper


def legacy_align(a: np.ndarray, b: np.ndarray, broadcast: int, axis: int | None) -> np.ndarray:
    """``b`` shaped to broadcast against ``a`` under the opset-1/6 ``broadcast``/``axis`` rules."""
    if not broadcast:
        if a.shape != b.shape:
            raise ValueError(f"shapes {a.shape} and {b.shape} differ and broadcast=0")
        return b
    if axis is None or b.ndim == 0:
        return b
    start = axis + a.ndim if axis < 0 else axis
    trailing = a.ndim - start - b.ndim
    if trailing < 0:
        raise ValueError(f"cannot align shape {b.shape} with {a.shape} at axis {axis}")
    return b.reshape(b.shape + (1,) * trailing)


def register_binary(op_type: str, fn: Callable, legacy: tuple[int, ...] = (1, 6), modern: int = 7) -> None:
    """Register ``fn(a, b)`` for ``op_type``: under the legacy ``broadcast``/``axis`` rules for the
    ``legacy`` versions, NumPy-style from ``modern`` on."""

    def legacy_broadcast(a, b, *, axis=None, broadcast=0):
        return fn(a, legacy_align(a, b, broadcast, axis))

    kernel(op_type, since=legacy)(legacy_broadcast)
    kernel(op_type, since=modern)(fn)


# -- binary arithmetic -------------------------------------------------------------


def add(a, b):
    return np.add(a, b).astype(a.dtype, copy=False)


def sub(a, b):
    return np.subtract(a, b).astype(a.dtype, copy=False)


def mul(a, b):
    return np.multiply(a, b).astype(a.dtype, copy=False)


def div(a, b):
    """Division; integers truncate toward zero as in C."""
    if a.dtype.kind in "iu":
        with np.errstate(divide="ignore"):
            q = np.floor_divide(a, b)
        if a.dtype.kind == "i":
            inexact = np.multiply(q, b) != a
            q = q + (inexact & ((a < 0) != (b < 0))).astype(q.dtype)
        return q.astype(a.dtype, copy=False)
    return np.divide(a, b).astype(a.dtype, copy=False)


def pow_(x, y):
    """x ** y; the result has the type of the base ``x``."""
    if x.dtype.kind in "iu":
        if y.dtype.kind in "iu" and not np.any(y < 0):
            return np.power(x, y).astype(x.dtype)
        return np.power(x.astype(np.float64), y.astype(np.float64)).astype(x.dtype)
    if is_half(x.dtype):
        return np.power(x.astype(np.float32), y.astype(np.float32)).astype(x.dtype)
    if y.size == 1 and x.dtype.kind == "f" and x.ndim >= y.ndim:
        exponent = float(y.reshape(()))
        if exponent in _POWERS_BY_PRODUCT:
            return _POWERS_BY_PRODUCT[exponent](x)
    return np.power(x, y.astype(x.dtype, copy=False))


def _cube(x):
    square = x * x
    square *= x
    return square


def _fourth(x):
    square = x * x
    np.multiply(square, square, out=square)
    return square


# Small integral exponents as products: np.power costs ~15 ns per float32 element, a product ~0.2 ns
# (GPT-2's tanh GELU computes x ** 3.0). A product rounds once per step, within 2 ulp of pow.
_POWERS_BY_PRODUCT = {1.0: lambda x: x.copy(), 2.0: np.square, 3.0: _cube, 4.0: _fourth}


for _op, _fn in (("Add", add), ("Sub", sub), ("Mul", mul), ("Div", div), ("Pow", pow_)):
    register_binary(_op, _fn, legacy=(1,) if _op == "Pow" else (1, 6))


@kernel("Mod", since=10)
def mod(a, b, *, fmod=0):
    """Remainder: sign of the divisor (fmod=0, as Python's %) or of the dividend (fmod=1, C fmod)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if fmod:
            return np.fmod(a, b)
        return np.mod(a, b)


# -- unary math ----------------------------------------------------------------------


def round_(x):
    """Round half to even."""
    return np.rint(x)


def sign(x):
    return np.sign(x)


def reciprocal(x):
    return np.reciprocal(x)


_UNARY_V1_V6 = {
    "Abs": np.abs,
    "Neg": np.negative,
    "Reciprocal": reciprocal,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Exp": np.exp,
    "Log": np.log,
    "Sqrt": np.sqrt,
}
for _op, _ufunc in _UNARY_V1_V6.items():
    kernel(_op, since=(1, 6))(_ufunc)

_UNARY_NEWER = {
    "Sin": (np.sin, 7),
    "Cos": (np.cos, 7),
    "Tan": (np.tan, 7),
    "Asin": (np.arcsin, 7),
    "Acos": (np.arccos, 7),
    "Atan": (np.arctan, 7),
    "Sinh": (np.sinh, 9),
    "Cosh": (np.cosh, 9),
    "Asinh": (np.arcsinh, 9),
    "Acosh": (np.arccosh, 9),
    "Atanh": (np.arctanh, 9),
    "Sign": (sign, 9),
    "Round": (round_, 11),
}
for _op, (_ufunc, _since) in _UNARY_NEWER.items():
    kernel(_op, since=_since)(_ufunc)


# -- erf -----------------------------------------------------------------------------
# float64: erf(x) = x * P(x**2) for |x| <= 2 and sign(x) * (1 - exp(-x**2) * Q(|x|)) for
# 2 < |x| < 6, beyond which erf rounds to +-1. P and Q are Chebyshev interpolants of
# math.erf / math.erfc computed once at import: relative error about 1e-14.
#
# float32: erf(x) = tanh(x * R(x**2)), R a degree-6 polynomial fitted at import to
# atanh(erf(t)) / t on 0 <= t <= 4.2 by weighted least squares under Lawson's iteration
# (towards the minimax fit), weighted so that the error it causes in erf,
# (1 - erf**2) * t * dR, is relative to erf: at most about 4 float32 ulps. R increases
# for every x**2 >= 0, so x * R(x**2) passes 8.9 (where tanh rounds to 1) near |x| = 3.9
# and stays above it: one formula covers every input, without a branch or a clamp. Its
# ~15 ufunc passes run over chunks small enough to stay in the L2 cache.

_ERF_SPLIT = 2.0
_ERF_CHUNK = 65536


def _chebyshev_fit(f: Callable[[float], float], lo: float, hi: float, degree: int) -> np.ndarray:
    def on_unit(u: np.ndarray) -> np.ndarray:
        return np.array([f(lo + (v + 1.0) * (hi - lo) / 2.0) for v in u])

    return chebyshev.chebinterpolate(on_unit, degree)


def _erf_fit(core_degree: int, tail_degree: int, top: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Power-basis coefficients (highest first) of P and Q in their interval mapped to [-1, 1]."""
    core = _chebyshev_fit(lambda t: math.erf(math.sqrt(t)) / math.sqrt(t), 0.0, _ERF_SPLIT**2, core_degree)
    tail = _chebyshev_fit(lambda x: math.erfc(x) * math.exp(x * x), _ERF_SPLIT, top, tail_degree)
    return chebyshev.cheb2poly(core)[::-1], chebyshev.cheb2poly(tail)[::-1], top


def _erf_tanh_fit(degree: int, top: float, points: int = 500, iterations: int = 20) -> np.ndarray:
    """Power-basis coefficients (highest first) of R, atanh(erf(t)) / t ~ R(t**2) on [0, top]."""
    t = np.linspace(1e-4, top, points)
    erf_t = np.array([math.erf(v) for v in t])
    # atanh(erf(t)), with 1 - erf(t) taken from erfc so that it keeps its precision
    target = np.array([0.5 * (math.log1p(e) - math.log(math.erfc(v))) / v for v, e in zip(t, erf_t)])
    weight = (1.0 - erf_t**2) * t / erf_t
    basis = chebyshev.chebvander(2.0 * t**2 / top**2 - 1.0, degree)
    lawson = np.ones_like(t)
    for _ in range(iterations):
        w = weight * np.sqrt(lawson)
        coefficients = np.linalg.lstsq(basis * w[:, None], target * w, rcond=None)[0]
        lawson *= np.abs(basis @ coefficients - target) * weight
        lawson /= lawson.sum()
    unit = np.polynomial.Polynomial([-1.0, 2.0 / top**2])  # t**2 -> [-1, 1]
    return np.polynomial.Polynomial(chebyshev.cheb2poly(coefficients))(unit).coef[::-1]


_ERF64 = _erf_fit(16, 18, 6.0)
ERF_TANH_FIT = _erf_tanh_fit(6, 4.2)
_ERF_TANH32 = tuple(np.array(c, np.float32) for c in ERF_TANH_FIT)


def _horner(u: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """The polynomial with ``coefficients`` (highest degree first) at ``u``, in place on one buffer."""
    out = np.full_like(u, coefficients[0])
    for c in coefficients[1:]:
        out *= u
        out += c
    return out


def tanh_argument(x: np.ndarray, out: np.ndarray, square: np.ndarray, coefficients: tuple) -> np.ndarray:
    """``out = x * R(x**2)`` for the polynomial R (0-d arrays, highest degree first); ``square`` is scratch."""
    np.multiply(x, x, out=square)
    np.multiply(square, coefficients[0], out=out)
    for c in coefficients[1:-1]:
        out += c
        out *= square
    out += coefficients[-1]
    out *= x
    return out


def float32_chunks(*arrays: np.ndarray):
    """Matching flat slices of C-contiguous float32 ``arrays`` small enough to stay in cache,
    with two scratch buffers of the slices' size."""
    size = arrays[0].size
    scratch = np.empty((2, min(size, _ERF_CHUNK)), np.float32)
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, size, _ERF_CHUNK):
        stop = min(start + _ERF_CHUNK, size)
        yield (*(f[start:stop] for f in flat), scratch[0, : stop - start], scratch[1, : stop - start])


def _erf_float32(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    with np.errstate(over="ignore"):  # x**2 may overflow to inf, whose tanh is still +-1
        for xc, oc, square, _ in float32_chunks(x, out):
            np.tanh(tanh_argument(xc, oc, square, _ERF_TANH32), out=oc)
    return out


def _erf_float64(x: np.ndarray) -> np.ndarray:
    core, tail, top = _ERF64
    u = np.square(x)
    np.minimum(u, _ERF_SPLIT**2, out=u)
    u *= 2.0 / _ERF_SPLIT**2
    u -= 1.0
    out = _horner(u, core)
    out *= x
    far = np.flatnonzero(np.abs(x) > _ERF_SPLIT)
    if far.size:
        xf = x.reshape(-1)[far]
        af = np.minimum(np.abs(xf), top)
        series = _horner((af - _ERF_SPLIT) * (2.0 / (top - _ERF_SPLIT)) - 1.0, tail)
        tail_values = np.where(af < top, 1.0 - np.exp(-af * af) * series, 1.0)
        out.reshape(-1)[far] = np.copysign(tail_values, xf)
    return out


def erf_values(x: np.ndarray) -> np.ndarray:
    """erf of a float32 or float64 array, in its dtype."""
    x = np.ascontiguousarray(x)
    return _erf_float32(x) if x.dtype == np.float32 else _erf_float64(x)


def _compiled(activation: str) -> Callable:
    """The compiled variant chooser of onyx.ops.fast.activations (imported when a session asks:
    that module imports this one)."""

    def choose(node, numpy_kernel, **attrs):
        from onyx.ops.fast import activations

        return activations.choose(activation)(node, numpy_kernel, **attrs)

    return choose


@kernel("Tanh", since=(1, 6))
@compiled_variant(_compiled("Tanh"))
def tanh(x):
    return np.tanh(x)


@kernel("Erf", since=9)
@compiled_variant(_compiled("Erf"))
def erf(x):
    if x.dtype.kind in "iu":
        return np.rint(erf_values(x.astype(np.float64))).astype(x.dtype)
    work = np.float64 if x.dtype == np.float64 else np.float32
    return erf_values(x.astype(work, copy=False)).astype(x.dtype, copy=False)


# -- variadic ------------------------------------------------------------------------


def _reduce(ufunc: np.ufunc, data: tuple[np.ndarray, ...]) -> np.ndarray:
    if not data:
        raise ValueError("needs at least one input")
    if len(data) == 1:
        return data[0].copy()
    return functools.reduce(ufunc, data).astype(data[0].dtype, copy=False)


def max_(*data):
    return _reduce(np.maximum, data)


def min_(*data):
    return _reduce(np.minimum, data)


def sum_(*data):
    return _reduce(np.add, data)


def mean(*data):
    dtype = data[0].dtype if data else None
    total = _reduce(np.add, data)
    if is_half(dtype):
        return (total.astype(np.float32) / len(data)).astype(dtype)
    return (total / np.asarray(len(data), dtype=dtype)).astype(dtype, copy=False)


kernel("Max", since=(1, 6))(max_)
kernel("Min", since=(1, 6))(min_)
kernel("Sum", since=(1, 6))(sum_)
kernel("Mean", since=(1, 6))(mean)


# -- Clip ------------------------------------------------------------------------------


def _clip(x: np.ndarray, lo, hi) -> np.ndarray:
    """min(hi, max(x, lo)) with absent bounds skipped; hi wins when lo > hi."""
    out = x
    if lo is not None:
        out = np.maximum(out, np.asarray(lo).astype(x.dtype))
    if hi is not None:
        out = np.minimum(out, np.asarray(hi).astype(x.dtype))
    return out if out is not x else x.copy()


@kernel("Clip", since=1)
def clip_v1(x, *, min=None, max=None):
    return _clip(x, min, max)


@kernel("Clip", since=6)
def clip_v6(x, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):
    with np.errstate(over="ignore"):
        return _clip(x, min, max)


@kernel("Clip", since=11)
def clip(x, min=None, max=None):
    return _clip(x, min, max)
