"""Activations and the Softmax family."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from onyx.providers.torch.converters.registry import FLOATS, SIGNED, NodeInfo, converter, text

converter("Relu", since=(6, 13, 14), dtypes=SIGNED)(torch.relu)
converter("Sigmoid", since=(6, 13), dtypes=FLOATS)(torch.sigmoid)
converter("Tanh", since=(6, 13), dtypes=FLOATS)(torch.tanh)


@converter("LeakyRelu", since=(6, 16), dtypes=FLOATS)
def leaky_relu(x, *, alpha=0.01):
    return F.leaky_relu(x, alpha)


@converter("Elu", since=6, dtypes=FLOATS)
def elu(x, *, alpha=1.0):
    return torch.where(x > 0, x, alpha * torch.expm1(x))


@converter("Selu", since=6, dtypes=FLOATS)
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return gamma * torch.where(x > 0, x, alpha * torch.expm1(x))


@converter("Celu", since=12, dtypes=FLOATS)
def celu(x, *, alpha=1.0):
    return torch.clamp(x, min=0) + torch.clamp(alpha * torch.expm1(x / alpha), max=0)


@converter("HardSigmoid", since=6, dtypes=FLOATS)
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    return torch.clamp(alpha * x + beta, 0, 1)


@converter("HardSwish", since=14, dtypes=FLOATS)
def hard_swish(x):
    return x * torch.clamp(x * (1 / 6) + 0.5, 0, 1)


@converter("Softplus", since=1, dtypes=FLOATS)
def softplus(x):
    return torch.log1p(torch.exp(-torch.abs(x))) + torch.clamp(x, min=0)


@converter("Softsign", since=1, dtypes=FLOATS)
def softsign(x):
    return x / (1 + torch.abs(x))


@converter("Mish", since=18, dtypes=FLOATS)
def mish(x):
    return x * torch.tanh(softplus(x))


@converter("ThresholdedRelu", since=10, dtypes=FLOATS)
def thresholded_relu(x, *, alpha=1.0):
    return torch.where(x > alpha, x, torch.zeros_like(x))


def _same_type(info: NodeInfo) -> dict | None:
    return {} if len(set(info.input_dtypes)) == 1 and not info.attrs else None


@converter("PRelu", since=(7, 9, 16), dtypes=SIGNED, prepare=_same_type)
def prelu(x, slope):
    return torch.where(x < 0, x * slope, x)


@converter("Shrink", since=9, dtypes=FLOATS)
def shrink(x, *, bias=0.0, lambd=0.5):
    return torch.where(x < -lambd, x + bias, torch.where(x > lambd, x - bias, torch.zeros_like(x)))


def _gelu_attrs(info: NodeInfo) -> dict | None:
    approximate = text(info.attrs.get("approximate"), "none")
    if set(info.attrs) - {"approximate"} or approximate not in ("none", "tanh"):
        return None
    return {"approximate": approximate}


@converter("Gelu", since=20, dtypes=FLOATS, prepare=_gelu_attrs)
@converter("Gelu", since=1, domain="ai.onyx", dtypes=FLOATS, prepare=_gelu_attrs)
def gelu(x, *, approximate="none"):
    return F.gelu(x, approximate=approximate)


@converter("Gelu", since=1, domain="com.microsoft", dtypes=FLOATS)
def erf_gelu(x):
    return F.gelu(x)


@converter("BiasGelu", since=1, domain="com.microsoft", dtypes=FLOATS)
def bias_gelu(x, bias):
    return F.gelu(x + bias)


@converter("FastGelu", since=1, domain="com.microsoft", dtypes=FLOATS)
def fast_gelu(x, bias=None):
    return F.gelu(x if bias is None else x + bias, approximate="tanh")


def _coerced(x: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Size]:
    """``x`` as the 2-D matrix the opset < 13 Softmax family works on."""
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:])), x.shape


@converter("Softmax", since=(1, 11), dtypes=FLOATS)
def softmax_2d(x, *, axis=1):
    flat, shape = _coerced(x, axis)
    return torch.softmax(flat, 1).reshape(shape)


@converter("Softmax", since=13, dtypes=FLOATS)
def softmax(x, *, axis=-1):
    return torch.softmax(x, axis)


@converter("LogSoftmax", since=(1, 11), dtypes=FLOATS)
def log_softmax_2d(x, *, axis=1):
    flat, shape = _coerced(x, axis)
    return torch.log_softmax(flat, 1).reshape(shape)


@converter("LogSoftmax", since=13, dtypes=FLOATS)
def log_softmax(x, *, axis=-1):
    return torch.log_softmax(x, axis)


def _hardmax_of(x: torch.Tensor, axis: int) -> torch.Tensor:
    index = torch.argmax(x, axis, keepdim=True)
    return torch.zeros_like(x).scatter_(axis, index, 1)


@converter("Hardmax", since=(1, 11), dtypes=FLOATS)
def hardmax_2d(x, *, axis=1):
    flat, shape = _coerced(x, axis)
    return _hardmax_of(flat, 1).reshape(shape)


@converter("Hardmax", since=13, dtypes=FLOATS)
def hardmax(x, *, axis=-1):
    return _hardmax_of(x, axis)


@converter("Swish", since=24, dtypes=FLOATS)
def swish(x, *, alpha=1.0):
    return x * torch.sigmoid(alpha * x)
