"""Fused contrib operators: FusedConv, FusedGemm, FusedMatMul, the Gelu family, BiasAdd, BiasSoftmax."""

from __future__ import annotations

import numpy as np

from onyx.ops.activations import gelu as standard_gelu
from onyx.ops.fused import PreparedFusedConv
from onyx.ops.fused import fused_gemm as onyx_fused_gemm
from onyx.ops.registry import kernel

MS = "com.microsoft"


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else value

def _batch_transposed(x: np.ndarray, trans_batch: int, trans: int) -> np.ndarray:
    """Move dim 0 behind the batch dims (transBatch), then swap the last two dims (trans)."""
    if x.ndim < 2:
        return x
    if trans_batch and x.ndim > 2:
        x = np.moveaxis(x, 0, -2)
    return np.swapaxes(x, -1, -2) if trans else x


@kernel("FusedMatMul", since=1, domain=MS)
def fused_matmul(a, b, *, alpha=1.0, transA=0, transB=0, transBatchA=0, transBatchB=0):
    y = np.matmul(_batch_transposed(a, transBatchA, transA), _batch_transposed(b, transBatchB, transB))
    if alpha != 1.0:
        y *= a.dtype.type(alpha)
    return y


@kernel("Gelu", since=1, domain=MS)
def gelu(x):
    return standard_gelu(x)


@kernel("BiasGelu", since=1, domain=MS)
def bias_gelu(a, b):
    return standard_gelu(a + b)


@kernel("FastGelu", since=1, domain=MS)
def fast_gelu(x, bias=None):
    return standard_gelu(x if bias is None else x + bias, approximate="tanh")


@kernel("QuickGelu", since=1, domain=MS)
def quick_gelu(x, *, alpha=1.702):
    w = x.astype(np.float64)
    return (w / (1.0 + np.exp(-alpha * w))).astype(x.dtype, copy=False)


@kernel("BiasAdd", since=1, domain=MS)
def bias_add(x, bias, skip):
    return x + bias + skip


def _softmax_from(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax over all dims from ``axis`` on, taken together (the opset-1/11 Softmax)."""
    flat = x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e.reshape(x.shape)


@kernel("BiasSoftmax", since=1, domain=MS)
def bias_softmax(data, bias, *, axis=1, is_inner_broadcast=None):
    """softmax(data + bias); a bias of lower rank broadcasts over inner (before ``axis``) or outer dims."""
    if is_inner_broadcast is None:
        raise ValueError("BiasSoftmax requires the is_inner_broadcast attribute")
    axis = axis + data.ndim if axis < 0 else axis
    if is_inner_broadcast and bias.ndim < data.ndim:
        # bias = data.shape[:k] + data.shape[axis:]: the missing dims sit just before ``axis``
        lead = bias.ndim - (data.ndim - axis)
        bias = bias.reshape(bias.shape[:lead] + (1,) * (data.ndim - bias.ndim) + bias.shape[lead:])
    return _softmax_from(data + bias, axis)


@kernel("FusedConv", since=1, domain=MS, prepare=True)
def ms_fused_conv(*, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
                  activation="", activation_params=(), _node):
    """activation(Conv(X, W, B) + Z): onnxruntime's name for onyx's own FusedConv."""
    return PreparedFusedConv(_node, _str(activation), activation_params, auto_pad=auto_pad, dilations=dilations,
                             group=group, kernel_shape=kernel_shape, pads=pads, strides=strides)


def gemm_activation_params(activation: str, activation_alpha, activation_beta, activation_gamma) -> list[float]:
    """FusedGemm's separate activation attributes as onyx's activation_params list."""
    defaults = {"LeakyRelu": [0.01], "HardSigmoid": [0.2, 0.5], "Clip": [-np.inf, np.inf]}.get(activation, [])
    given = [activation_alpha, activation_beta, activation_gamma][: len(defaults)]
    return [float(d if v is None else v) for v, d in zip(given, defaults)]


@kernel("FusedGemm", since=1, domain=MS)
def ms_fused_gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, activation="", activation_alpha=None,
                  activation_beta=None, activation_gamma=None):
    """activation(Gemm(A, B, C)); activation_alpha/beta are LeakyRelu's alpha, HardSigmoid's alpha and beta."""
    activation = _str(activation)
    params = gemm_activation_params(activation, activation_alpha, activation_beta, activation_gamma)
    return onyx_fused_gemm(A, B, C, alpha=alpha, beta=beta, transA=transA, transB=transB, activation=activation,
                           activation_params=params)
