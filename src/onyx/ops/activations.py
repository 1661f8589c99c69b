"""Activation functions. float16/bfloat16 inputs are computed in float32 and cast back."""

from __future__ import annotations

import math

import numpy as np

from onyx.compiled import compiled_variant
from onyx.ops.fast import activations as fast
from onyx.ops.math import ERF_TANH_FIT, IEEE_FLOATS, erf_values, float32_chunks, float_math, tanh_argument
from onyx.ops.registry import kernel


# -- ReLU family -----------------------------------------------------------------------


def relu(x, out=None):
    """max(x, 0), NaN kept. For IEEE floats it is a clip to [0, inf], which NumPy runs several
    times faster than ``np.maximum`` with a scalar; the array's own ``clip``, as ``np.clip``'s
    argument checks cost 20-30 us a call (NumPy 2.4), more than a small array's clip."""
    if x.dtype in IEEE_FLOATS:
        return x.clip(x.dtype.type(0), x.dtype.type(np.inf), out=out)
    return np.maximum(x, np.zeros((), dtype=x.dtype), out=out)


@float_math
def leaky_relu(x, *, alpha=0.01):
    """x where x >= 0, else alpha * x: max(x, alpha x) for alpha in (0, 1], min for alpha > 1
    (masked selections run several times slower on mixed signs)."""
    if alpha <= 0:  # 0 * inf would be NaN
        return np.where(x < 0, x * alpha, x)
    scaled = np.multiply(x, x.dtype.type(alpha))
    return (np.maximum if alpha <= 1 else np.minimum)(x, scaled, out=scaled)


@float_math
def thresholded_relu(x, *, alpha=1.0):
    return np.where(x > alpha, x, 0.0)


@kernel("Relu", since=(1, 6))
def relu_kernel(x):
    return relu(x)
kernel("LeakyRelu", since=(1, 6))(leaky_relu)
kernel("ThresholdedRelu", since=10)(thresholded_relu)


@float_math
def _prelu(x, slope):
    return np.where(x < 0, x * slope.astype(x.dtype), x)


def _channel_slope(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Opset-6 PRelu: a 1-D slope of the channel count applies per channel (axis 1)."""
    if slope.ndim == 1 and slope.size > 1 and x.ndim >= 2 and slope.size == x.shape[1]:
        return slope.reshape((-1,) + (1,) * (x.ndim - 2))
    return slope


@kernel("PRelu", since=(1, 6))
def prelu_v6(x, slope):
    return _prelu(x, _channel_slope(x, slope))


@kernel("PRelu", since=7)
def prelu(x, slope):
    """Leaky ReLU whose slope broadcasts to ``x`` (unidirectionally)."""
    if x.dtype.kind in "iu":
        return np.where(x < 0, x * slope, x).astype(x.dtype, copy=False)
    return _prelu(x, slope)


# -- exponential units ------------------------------------------------------------------


@float_math
def elu(x, *, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@float_math
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return gamma * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@float_math
def celu(x, *, alpha=1.0):
    return np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))


kernel("Elu", since=(1, 6))(elu)
kernel("Selu", since=6)(selu)
kernel("Celu", since=12)(celu)


@kernel("Selu", since=1)
def selu_v1(x, *, alpha=1.673200011253357, gamma=1.0506999492645264):
    """Selu-1: its defaults are the constants rounded to five significant digits."""
    return selu(x, alpha=alpha, gamma=gamma)


# -- sigmoid family ------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


@float_math
def sigmoid(x):
    return _sigmoid(x)


@float_math
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    return np.clip(x * alpha + beta, 0.0, 1.0)


@float_math
def hard_swish(x):
    return x * np.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


@float_math
def swish(x, *, alpha=1.0):
    return x * _sigmoid(x * alpha)


kernel("Sigmoid", since=(1, 6))(compiled_variant(fast.choose("Sigmoid"))(sigmoid))
kernel("HardSigmoid", since=(1, 6))(hard_sigmoid)
kernel("HardSwish", since=14)(hard_swish)
kernel("Swish", since=24)(swish)


# -- smooth rectifiers -------------------------------------------------------------------------


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), stable for large |x|."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@kernel("Softplus", since=1)
@float_math
def softplus(x):
    return _softplus(x)


@kernel("Softsign", since=1)
@float_math
def softsign(x):
    return x / (1.0 + np.abs(x))


@kernel("Mish", since=18)
@float_math
def mish(x):
    return x * np.tanh(_softplus(x))


# erf(t) = tanh(t R(t**2)) (see onyx.ops.math) with t = x / sqrt 2 = sqrt 2 h, h = x / 2:
# gelu(x) = h (1 + tanh(h G(h**2))) where G(v) = sqrt 2 R(2 v).
_GELU_TANH32 = tuple(
    np.array(c * math.sqrt(2.0) * 2.0**power, np.float32)
    for power, c in zip(range(len(ERF_TANH_FIT) - 1, -1, -1), ERF_TANH_FIT)
)
_HALF32 = np.array(0.5, np.float32)


def gelu_float32(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The erf Gelu of C-contiguous float32 ``x`` written into ``out`` (which may be ``x``)."""
    with np.errstate(over="ignore"):  # h**2 may overflow to inf, whose tanh is still +-1
        for xc, h, square, t in float32_chunks(x, out):
            np.multiply(xc, _HALF32, out=h)
            np.tanh(tanh_argument(h, t, square, _GELU_TANH32), out=t)
            t *= h
            h += t
    return out


@kernel("Gelu", since=20)
@compiled_variant(fast.choose("Gelu"))
@float_math
def gelu(x, *, approximate="none"):
    """0.5 x (1 + erf(x / sqrt 2)), or its tanh approximation (in one work buffer)."""
    t = x.dtype.type
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        y = np.multiply(x, x)
        y *= t(0.044715 * c)
        y += t(c)
        y *= x  # sqrt(2/pi) (x + 0.044715 x^3)
        np.tanh(y, out=y)
    elif approximate == "none":
        if x.dtype == np.float32:
            x = np.ascontiguousarray(x)
            return gelu_float32(x, np.empty_like(x))
        y = erf_values(x * t(math.sqrt(0.5)))
    else:
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    y += t(1)
    y *= x
    y *= t(0.5)
    return y


@kernel("Shrink", since=9)
def shrink(x, *, bias=0.0, lambd=0.5):
    """x + bias below -lambd, x - bias above lambd, 0 between."""
    if x.dtype.kind in "iu":
        xf = x.astype(np.float64)
        return np.where(xf < -lambd, xf + bias, np.where(xf > lambd, xf - bias, 0)).astype(x.dtype)
    return _shrink_float(x, bias, lambd)


@float_math
def _shrink_float(x, bias, lambd):
    return np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0.0))
