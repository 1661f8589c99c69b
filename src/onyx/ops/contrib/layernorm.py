"""Layer-normalization contrib operators: the Skip*, Simplified (RMS) and Embed* fusions, LayerNormalization before opset 17."""

from __future__ import annotations

import numpy as np

from onyx.ops.normalization import layer_normalization as standard_layer_normalization
from onyx.ops.registry import kernel

MS = "com.microsoft"


def _normalize_last(x: np.ndarray, epsilon: float, simplified: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(normalized x, mean, 1/std) over the last dim, computed in float32 (float64 for double)."""
    w = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    if simplified:
        mean = np.zeros(w.shape[:-1] + (1,), dtype=w.dtype)
        centered = w
    else:
        mean = w.mean(axis=-1, keepdims=True)
        centered = w - mean
    inv_std = 1.0 / np.sqrt(np.mean(centered * centered, axis=-1, keepdims=True) + w.dtype.type(epsilon))
    return centered * inv_std, mean, inv_std


def _skip_layer_norm(x, skip, gamma, beta, bias, epsilon: float, simplified: bool, num_outputs: int):
    total = x + skip if bias is None else x + skip + bias
    normed, mean, inv_std = _normalize_last(total, epsilon, simplified)
    y = normed * gamma
    if beta is not None:
        y = y + beta
    outputs = (y.astype(x.dtype, copy=False), mean.astype(np.float32), inv_std.astype(np.float32), total)
    return outputs[: max(num_outputs, 1)]


@kernel("SkipLayerNormalization", since=1, domain=MS)
def skip_layer_normalization(input, skip, gamma, beta=None, bias=None, *, epsilon=1e-12, _num_outputs=1):
    """LayerNorm(input + skip + bias) * gamma + beta; also mean, inv_std_var and the sum."""
    return _skip_layer_norm(input, skip, gamma, beta, bias, epsilon, False, _num_outputs)


@kernel("SkipSimplifiedLayerNormalization", since=1, domain=MS)
def skip_simplified_layer_normalization(input, skip, gamma, bias=None, *, epsilon=1e-12, _num_outputs=1):
    """RMSNorm(input + skip + bias) * gamma; the mean output is zeros (RMS norm subtracts no mean)."""
    return _skip_layer_norm(input, skip, gamma, None, bias, epsilon, True, _num_outputs)


@kernel("SimplifiedLayerNormalization", since=1)
def simplified_layer_normalization(x, scale, *, axis=-1, epsilon=1e-5, stash_type=1, _num_outputs=1):
    """RMS normalization over dims ``axis``..end: x / sqrt(mean(x^2) + epsilon) * scale (onnxruntime, ai.onnx)."""
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for rank {x.ndim}")
    stash = np.float64 if stash_type == 11 else np.float32
    reduce_axes = tuple(range(axis, x.ndim))
    w = x.astype(stash, copy=False)
    inv_std = 1.0 / np.sqrt(np.mean(w * w, axis=reduce_axes, keepdims=True) + stash(epsilon))
    y = (w * inv_std * scale).astype(scale.dtype, copy=False)
    return (y, inv_std) if _num_outputs > 1 else y


# onnxruntime's LayerNormalization for models of opsets before 17 (ai.onnx, as onnxruntime registers
# it and writes it into the models it optimizes): the opset-17 operator
kernel("LayerNormalization", since=1)(standard_layer_normalization)


@kernel("EmbedLayerNormalization", since=1, domain=MS)
def embed_layer_normalization(
    input_ids,
    segment_ids,
    word_embedding,
    position_embedding,
    segment_embedding=None,
    gamma=None,
    beta=None,
    mask=None,
    position_ids=None,
    *,
    epsilon=1e-12,
    mask_index_type=1,
    _num_outputs=1,
):
    """LayerNorm(word[ids] + position[pos] + segment[seg]); mask_index = number of 1s per mask row."""
    if gamma is None or beta is None:
        raise ValueError("EmbedLayerNormalization requires gamma and beta")
    batch, seq = input_ids.shape
    if position_ids is None:
        position_ids = np.arange(seq)
    total = np.take(word_embedding, input_ids, axis=0) + np.take(position_embedding, position_ids, axis=0)
    if segment_ids is not None and segment_embedding is not None:
        total += np.take(segment_embedding, segment_ids, axis=0)
    normed, _, _ = _normalize_last(total, epsilon, False)
    output = (normed * gamma + beta).astype(word_embedding.dtype, copy=False)
    if mask is None:
        mask_index = np.zeros(batch, dtype=np.int32)
    else:
        mask_index = np.count_nonzero(mask, axis=1).astype(np.int32)
    return (output, mask_index, total)[: max(_num_outputs, 1)]
