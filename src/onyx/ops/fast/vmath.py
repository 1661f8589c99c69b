"""float32 exp, sigmoid, tanh, erf and GELU that LLVM vectorizes inside compiled loops.

Numba compiles ``math.exp`` and ``math.tanh`` to calls of the C library, one element at a
time (about 5 ns an element here; NumPy's float32 ``tanh`` is not vectorized on this build
either). These helpers use only arithmetic, comparisons and one bit cast, so a loop calling
them runs eight floats per AVX2 instruction (exp: about 0.4 ns an element). They are
``@inline`` helpers: a compiled loop calls them per element and is compiled with
``fastmath={"contract"}`` (multiply-adds fused; no reassociation, which would undo the
rounding trick in :func:`exp32`).

* exp32: exp(x) = 2**n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]
  (ln 2 split in two parts so that r is exact), exp(r) by its Taylor polynomial to degree 7
  (error below 1.2 ulp), 2**n as two float32 factors built from their exponent bits, so that
  results overflow to inf and underflow through the subnormals to 0 as C's expf does.
* tanh32: 1 - 2 / (exp(2|x|) + 1) with x's sign; below |x| = 0.625, where that difference
  would cancel, x + x u P(u) (u = x**2, P fitted at import). About 2 ulp.
* sigmoid32: 1 / (1 + exp(-x)).
* erf32: tanh(x R(x**2)) with onyx.ops.math's fit of R (4 ulp, the NumPy kernel's formula).
* gelu32: x (1 + erf(x / sqrt 2)) / 2 = x sigmoid(2 atanh(erf(x / sqrt 2))) = x sigmoid(x G(x**2))
  with G(u) = sqrt 2 R(u / 2): no cancellation where erf is near -1 (x < -3);
  gelu_tanh32 likewise, 0.5 x (1 + tanh(z)) = x sigmoid(2 z).
NaN propagates; +-inf give exp's and tanh's limits.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import chebyshev

from onyx.compiled import NumbaIntrinsic, inline
from onyx.ops.math import ERF_TANH_FIT


def _bits_as_float32(numba):
    """The intrinsic reinterpreting an int32's bits as a float32."""
    from numba.core import types

    @numba.extending.intrinsic
    def bits_as_float32(typingctx, bits):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float32))

        return types.float32(types.int32), codegen

    return bits_as_float32


float32_from_bits = NumbaIntrinsic(_bits_as_float32)

_F = np.float32
_LOG2E = _F(1.0 / math.log(2.0))
_LN2_HIGH = _F(0.693145751953125)  # ln 2's first 16 bits: n * _LN2_HIGH is exact for |n| < 2**8
_LN2_LOW = _F(math.log(2.0) - 0.693145751953125)
_EXP_LOW, _EXP_HIGH = _F(-104.0), _F(89.0)  # beyond them expf is 0 or inf: the clamp keeps n small
_ONE, _TWO, _HALF = _F(1.0), _F(2.0), _F(0.5)
_E7, _E6, _E5, _E4, _E3 = (_F(1.0 / math.factorial(k)) for k in (7, 6, 5, 4, 3))
_TANH_SMALL = _F(0.625)


def _tanh_series_fit(degree: int = 6, top: float = 0.625) -> tuple[np.float32, ...]:
    """Power-basis coefficients (highest first) of P, (tanh(x) / x - 1) / x**2 ~ P(x**2) on |x| <= top."""
    def on_unit(v: np.ndarray) -> np.ndarray:
        u = (v + 1.0) * top**2 / 2.0
        return np.array([(math.tanh(math.sqrt(w)) / math.sqrt(w) - 1.0) / w for w in u])

    unit = np.polynomial.Polynomial([-1.0, 2.0 / top**2])  # u -> [-1, 1]
    coefficients = np.polynomial.Polynomial(chebyshev.cheb2poly(chebyshev.chebinterpolate(on_unit, degree)))(unit)
    return tuple(_F(c) for c in coefficients.coef[::-1])


_T6, _T5, _T4, _T3, _T2, _T1, _T0 = _tanh_series_fit()
_R6, _R5, _R4, _R3, _R2, _R1, _R0 = (_F(c) for c in ERF_TANH_FIT)
# G(u) = sqrt 2 R(u / 2), coefficient of u**k: sqrt 2 c_k / 2**k
_G6, _G5, _G4, _G3, _G2, _G1, _G0 = (
    _F(c * math.sqrt(2.0) / 2.0**power) for power, c in zip(range(6, -1, -1), ERF_TANH_FIT))
_GELU_TANH_C = _F(2.0 * math.sqrt(2.0 / math.pi))  # 2 z = x (C + C * 0.044715 x**2)
_GELU_TANH_C3 = _F(2.0 * math.sqrt(2.0 / math.pi) * 0.044715)


@inline
def exp32(x):
    """exp(x) of a float32 (see the module's notes)."""
    v = _EXP_LOW if x < _EXP_LOW else x
    v = _EXP_HIGH if v > _EXP_HIGH else v
    n = np.floor(v * _LOG2E + _HALF)
    r = v - n * _LN2_HIGH
    r = r - n * _LN2_LOW
    p = ((((((_E7 * r + _E6) * r + _E5) * r + _E4) * r + _E3) * r + _HALF) * r + _ONE) * r + _ONE
    k = np.int32(n)
    half = k >> np.int32(1)
    p = p * float32_from_bits((half + np.int32(127)) << np.int32(23))
    return p * float32_from_bits((k - half + np.int32(127)) << np.int32(23))


@inline
def sigmoid32(x):
    """1 / (1 + exp(-x)) of a float32."""
    return _ONE / (_ONE + exp32(-x))


@inline
def tanh32(x):
    """tanh(x) of a float32."""
    a = abs(x)
    far = _ONE - _TWO / (exp32(a + a) + _ONE)
    far = far if x >= 0 else -far
    u = x * x
    near = x + x * u * ((((((_T6 * u + _T5) * u + _T4) * u + _T3) * u + _T2) * u + _T1) * u + _T0)
    return near if a < _TANH_SMALL else far


@inline
def erf32(x):
    """erf(x) of a float32."""
    u = x * x
    return tanh32(x * ((((((_R6 * u + _R5) * u + _R4) * u + _R3) * u + _R2) * u + _R1) * u + _R0))


@inline
def gelu32(x):
    """x (1 + erf(x / sqrt 2)) / 2 of a float32."""
    u = x * x
    return x * sigmoid32(x * ((((((_G6 * u + _G5) * u + _G4) * u + _G3) * u + _G2) * u + _G1) * u + _G0))


@inline
def gelu_tanh32(x):
    """x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3))) / 2 of a float32."""
    return x * sigmoid32(x * (_GELU_TANH_C + _GELU_TANH_C3 * (x * x)))
