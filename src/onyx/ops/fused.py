"""onyx's fused operators (domain "ai.onyx", version 1), made by the graph optimizer.

Each one computes a chain of standard operators in a single step, applying bias,
residual and activation in place on the product's fresh output buffer:

* FusedConv(X, W, B?, Z?): activation(Conv(X, W, B) + Z)
* FusedGemm(A, B, C?): activation(Gemm(A, B, C))
* FusedMatMulBias(A, B, bias?): activation(MatMul(A, B) + bias)
* ChannelAffine(X, scale, shift): activation(X * scale + shift), scale and shift cast to X's type
* FusedAttention(Q, KT, V, mask?): Softmax(scale * Q @ KT + mask) @ V over the last axis
  (its own module, onyx/ops/fused_attention.py)
* Gelu, LayerNormalization: the standard operators for models whose opset predates them
* PadChannels(X): X with zero channels up to a multiple of ``multiple`` (onnxruntime's ReorderInput)

``activation`` names a standard operator (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, Tanh,
Gelu, GeluTanh) and ``activation_params`` its numeric attributes (alpha, [alpha, beta],
[min, max]).
"""

from __future__ import annotations

import numpy as np

from onyx.compiled import compiled_variant, named
from onyx.ops.activations import gelu as _gelu
from onyx.ops.activations import gelu_float32, leaky_relu, relu
from onyx.ops.conv import PreparedConv
from onyx.ops.linalg import gemm, mat_mul
from onyx.ops.fast import activations as fast_activations
from onyx.ops.fast import normalization as fast_normalization
from onyx.ops.normalization import layer_normalization as _layer_normalization
from onyx.ops.registry import NodeContext, kernel

DOMAIN = "ai.onyx"


def _in_place(y: np.ndarray) -> np.ndarray:
    """``y`` itself when a kernel may overwrite it, else a private copy."""
    return y if y.flags.writeable and y.flags.owndata else y.copy()


def _add(y: np.ndarray, other: np.ndarray) -> np.ndarray:
    """y + other, in place when broadcasting keeps y's shape."""
    if np.broadcast_shapes(y.shape, other.shape) == y.shape:
        y += other
        return y
    return y + other


def apply_activation(y: np.ndarray, activation: str, params: list[float]) -> np.ndarray:
    """The named activation of ``y``, computed in y's buffer (which the caller owns) where NumPy
    can. A ``y`` that is a strided view (a convolution's cropped grid) gets a fresh contiguous
    result: Relu and Clip write it in their one pass, other activations copy ``y`` first."""
    out = y if y.flags.c_contiguous else None
    t = y.dtype.type
    if activation == "Relu":
        return relu(y, out=out)
    if activation == "Clip":
        lo, hi = params
        return np.clip(y, t(lo), t(hi), out=out)
    if out is None:
        y = np.ascontiguousarray(y)
    if not activation:
        return y
    if activation == "LeakyRelu":
        return leaky_relu(y, alpha=params[0])
    if activation == "Sigmoid":
        with np.errstate(over="ignore"):
            np.negative(y, out=y)
            np.exp(y, out=y)
        y += t(1)
        return np.reciprocal(y, out=y)
    if activation == "HardSigmoid":
        alpha, beta = params
        y *= t(alpha)
        y += t(beta)
        return np.clip(y, t(0), t(1), out=y)
    if activation == "Tanh":
        return np.tanh(y, out=y)
    if activation == "Gelu" and y.dtype == np.float32 and y.flags.c_contiguous:
        return gelu_float32(y, y)
    if activation in ("Gelu", "GeluTanh"):
        return _gelu(y, approximate="tanh" if activation == "GeluTanh" else "none")
    raise ValueError(f"unknown fused activation '{activation}'")


def _clamp(activation: str, params: list[float]) -> tuple[float, float] | None:
    """The (low, high) bounds that are ``activation`` (none, Relu, Clip), or None."""
    if activation == "Relu":
        return 0.0, np.inf
    if activation == "Clip":
        return params[0], params[1]
    return None if activation else (-np.inf, np.inf)


class PreparedFusedConv:
    """activation(Conv(X, W, B) + Z) for one node, its convolution prepared once (PreparedConv).
    When the convolution's output is a cropped view of a padded grid, the pass that makes it
    contiguous adds Z or applies a clipping activation (see apply_activation)."""

    def __init__(self, node: NodeContext, activation: str = "", activation_params=(), **conv_attrs):
        self.conv = PreparedConv(node, cropped_view=True, **conv_attrs)
        self.activation, self.params = activation, list(activation_params)
        compiled = node.compiled and activation in fast_activations.CODES and fast_activations.float32_node(node)
        self.compiled_activation = fast_activations.epilogue(activation) if compiled else None

    @property
    def kernel_name(self) -> str:
        return self.conv.kernel_name

    def __call__(self, X, W, B=None, Z=None):
        clamp = _clamp(self.activation, self.params)
        if clamp is not None:
            y = self.conv.fused(X, W, B, Z, clamp)
            if y is not None:
                return y
        y = self.conv(X, W, B)
        if Z is not None:
            y = _add(y, Z) if y.flags.c_contiguous else np.add(y, Z.astype(y.dtype, copy=False))
        if self.compiled_activation is not None and self.compiled_activation(y, None) is not None:
            return y
        return apply_activation(y, self.activation, self.params)


@kernel("FusedConv", since=1, domain=DOMAIN, prepare=True)
def fused_conv(*, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
               activation="", activation_params=(), _node):
    """activation(Conv(X, W, B) + Z) on the convolution's fresh output."""
    return PreparedFusedConv(_node, activation, activation_params, auto_pad=auto_pad, dilations=dilations,
                             group=group, kernel_shape=kernel_shape, pads=pads, strides=strides)


def _compiled_product(product, name: str):
    """The compiled variant of FusedGemm or FusedMatMulBias (``product``: their NumPy product):
    the product as NumPy computes it, then the bias and a Gelu/Sigmoid/Tanh activation in one
    compiled pass over its output."""

    def choose(node: NodeContext, numpy_kernel, *, activation="", activation_params=(), **attrs):
        if activation not in fast_activations.CODES or not fast_activations.float32_node(node):
            return None
        apply = fast_activations.epilogue(activation)
        if apply is None:
            return None
        params = list(activation_params)

        def run(A, B, bias=None):
            y, pending_bias = product(A, B, bias, **attrs)
            finished = apply(y, pending_bias)
            return _finish(y, pending_bias, activation, params) if finished is None else finished

        return named(run, f"compiled:{name}+{activation.lower()}")

    return choose


def _gemm_product(A, B, C=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    """Gemm(A, B, C) in a buffer the caller owns, and no bias left to add."""
    return _in_place(gemm(A, B, C, alpha, beta, transA, transB)), None


def _matmul_product(A, B, bias=None):
    """MatMul(A, B) in a new buffer, and the bias still to add."""
    if A.ndim > 2 and B.ndim == 2:
        A = np.ascontiguousarray(A)  # so that mat_mul makes one large product, not one per leading index
    return np.asarray(mat_mul(A, B)), bias  # a new buffer (or a reshaped view of one), never an input


def _finish(y, bias, activation, params):
    """activation(y + bias) with NumPy, in y's buffer where it can."""
    if bias is not None:
        y = _add(y, bias)
    return apply_activation(y, activation, params)


@kernel("FusedGemm", since=1, domain=DOMAIN)
@compiled_variant(_compiled_product(_gemm_product, "gemm"))
def fused_gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, activation="", activation_params=()):
    """activation(Gemm(A, B, C))."""
    y, _ = _gemm_product(A, B, C, alpha, beta, transA, transB)
    return apply_activation(y, activation, list(activation_params))


@kernel("FusedMatMulBias", since=1, domain=DOMAIN)
@compiled_variant(_compiled_product(_matmul_product, "matmul"))
def fused_matmul_bias(A, B, bias=None, *, activation="", activation_params=()):
    """activation(MatMul(A, B) + bias)."""
    y, bias = _matmul_product(A, B, bias)
    return _finish(y, bias, activation, list(activation_params))


@kernel("ChannelAffine", since=1, domain=DOMAIN)
def channel_affine(X, scale, shift, *, activation="", activation_params=()):
    """activation(X * scale + shift); scale and shift broadcast along the channel axis."""
    y = np.multiply(X, scale.astype(X.dtype, copy=False))
    y += shift.astype(X.dtype, copy=False)
    return apply_activation(y, activation, list(activation_params))


kernel("Gelu", since=1, domain=DOMAIN)(_gelu)  # the opset-20 Gelu for models importing an older opset


@kernel("LayerNormalization", since=1, domain=DOMAIN)
@compiled_variant(fast_normalization.choose_layer_normalization_y)
def layer_normalization(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """The opset-17 LayerNormalization for models importing an older opset (Y only)."""
    return _layer_normalization(X, Scale, B, axis=axis, epsilon=epsilon, stash_type=stash_type)[0]


@kernel("PadChannels", since=1, domain=DOMAIN)
def pad_channels(X, *, multiple=1, channels_last=0):
    """X with zero channels appended up to a multiple of ``multiple``; a channels_last (NHWC)
    input is first moved to NCHW. onnxruntime's ReorderInput on onyx's layout (onyx.optimizer.nchwc)."""
    x = np.moveaxis(X, -1, 1) if channels_last else X
    missing = -x.shape[1] % multiple
    if not missing:
        return np.ascontiguousarray(x)
    widths = [(0, 0)] * x.ndim
    widths[1] = (0, missing)
    return np.pad(x, widths)
