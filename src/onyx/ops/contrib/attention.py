"""Attention contrib operators: Attention (packed QKV weights), MultiHeadAttention, RotaryEmbedding."""

from __future__ import annotations

import numpy as np

from onyx.ops.attention import split_heads
from onyx.ops.registry import kernel

MS = "com.microsoft"


def _merge_heads(x: np.ndarray) -> np.ndarray:
    """(B, N, S, h) -> (B, S, N*h)."""
    batch, heads, seq, size = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, seq, heads * size)


def _mask_bias(mask: np.ndarray, batch: int, seq: int, total: int, past: int, fill: float) -> np.ndarray:
    """An additive (B, 1, S|1, T) bias from an attention mask in any of its documented forms.

    1-D (B): valid key lengths (right padding); 1-D (2B): exclusive ends then inclusive starts (left
    padding); 2-D (B, T) or 3-D (B, S, T): 1 keeps, 0 masks; 4-D (B, 1, M, M): rows past..past+S, cols :T.
    """
    keys = np.arange(total)
    if mask.ndim == 1 and mask.shape[0] == batch:
        keep = keys[None, :] < mask[:, None]
    elif mask.ndim == 1 and mask.shape[0] == 2 * batch:
        keep = (keys[None, :] < mask[:batch, None]) & (keys[None, :] >= mask[batch:, None])
    elif mask.ndim == 2 and mask.shape[1] == total:
        keep = mask != 0
    elif mask.ndim == 3 and mask.shape[1:] == (seq, total):
        keep = mask != 0
    elif mask.ndim == 4 and mask.shape[2] >= past + seq and mask.shape[3] >= total:
        keep = mask[:, 0, past : past + seq, :total] != 0
    else:
        keep = None
    if keep is None or keep.shape[0] != batch:
        raise ValueError(f"attention mask of shape {mask.shape} does not fit batch {batch}, total length {total}")
    if keep.ndim == 2:
        keep = keep[:, None, :]
    return np.where(keep, np.float32(0), np.float32(fill))[:, None]


def _attend(q, k, v, scale: float, additive: list, causal: bool, want_scores: bool):
    """softmax(q k^T * scale + biases [+ causal]) v over (B, N, S, h) heads; also the scaled scores if asked."""
    scores = np.matmul(q, k.swapaxes(-1, -2))
    scores *= scores.dtype.type(scale)
    for bias in additive:
        scores += bias
    if causal:
        seq, total = scores.shape[-2:]
        future = np.arange(total)[None, :] > np.arange(total - seq, total)[:, None]
        scores[..., future] = np.finfo(scores.dtype).min
    qk = scores.copy() if want_scores else None
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return np.matmul(scores, v), qk


@kernel("Attention", since=1, domain=MS)
def attention(
    input,
    weights,
    bias=None,
    mask_index=None,
    past=None,
    attention_bias=None,
    past_sequence_length=None,
    *,
    num_heads=None,
    qkv_hidden_sizes=None,
    unidirectional=0,
    scale=None,
    mask_filter_value=None,
    do_rotary=0,
    past_present_share_buffer=0,
    rotary_embedding_dim=0,
    _num_outputs=1,
):
    """Self-attention with merged Q/K/V projection weights and optional past/present key-value state."""
    if not num_heads:
        raise ValueError("Attention requires a positive num_heads")
    if do_rotary or past_present_share_buffer:
        raise ValueError("Attention: do_rotary and past_present_share_buffer are not supported")
    sizes = list(qkv_hidden_sizes) if qkv_hidden_sizes else [weights.shape[1] // 3] * 3
    if sum(sizes) != weights.shape[1]:
        raise ValueError(f"qkv_hidden_sizes {sizes} do not sum to the weights' width {weights.shape[1]}")
    projected = np.matmul(input, weights)
    if bias is not None:
        projected += bias
    q, k, v = (split_heads(part, num_heads, "input") for part in np.split(projected, np.cumsum(sizes[:2]), axis=-1))
    past_len = 0
    if past is not None:
        past_len = past.shape[3]
        k = np.concatenate([past[0], k], axis=2)
        v = np.concatenate([past[1], v], axis=2)
    batch, _, seq, head_size = q.shape
    total = k.shape[2]
    fill = -10000.0 if mask_filter_value is None else mask_filter_value
    additive = []
    if mask_index is not None:
        additive.append(_mask_bias(mask_index, batch, seq, total, past_len, fill))
    if attention_bias is not None:
        additive.append(attention_bias)
    scale = 1.0 / np.sqrt(head_size) if not scale else scale
    out, _ = _attend(q, k, v, scale, additive, bool(unidirectional), False)
    output = _merge_heads(out).astype(input.dtype, copy=False)
    if _num_outputs > 1:
        return output, np.stack([k, v])
    return output


def _mha_qkv(query, key, value, bias, num_heads: int):
    """Q, K, V as (B, N, S, h) heads from MultiHeadAttention's separate, packed-KV, packed-QKV or BNSH forms."""
    if key is None and value is None:
        if query.ndim != 5 or query.shape[3] != 3:
            raise ValueError("MultiHeadAttention without key needs packed QKV of shape (B, S, N, 3, h)")
        if bias is not None:
            query = query + bias.reshape(3, num_heads, -1).transpose(1, 0, 2)
        q, k, v = (query[:, :, :, i].transpose(0, 2, 1, 3) for i in range(3))
        return q, k, v, False
    q_bias = k_bias = v_bias = None
    if bias is not None:
        hidden = query.shape[-1]
        q_bias, k_bias, v_bias = bias[:hidden], bias[hidden : 2 * hidden], bias[2 * hidden :]
    q = split_heads(query if q_bias is None else query + q_bias, num_heads, "query")
    if key.ndim == 5:
        if k_bias is not None:
            key = key + np.stack([k_bias, v_bias]).reshape(2, num_heads, -1).transpose(1, 0, 2)
        return q, key[:, :, :, 0].transpose(0, 2, 1, 3), key[:, :, :, 1].transpose(0, 2, 1, 3), False
    if key.ndim == 4:  # already projected and split into heads (B, N, L, h): no bias, no past
        return q, key, value, True
    k = split_heads(key if k_bias is None else key + k_bias, num_heads, "key")
    v = split_heads(value if v_bias is None else value + v_bias, num_heads, "value")
    return q, k, v, False


@kernel("MultiHeadAttention", since=1, domain=MS)
def multi_head_attention(
    query,
    key=None,
    value=None,
    bias=None,
    key_padding_mask=None,
    attention_bias=None,
    past_key=None,
    past_value=None,
    past_sequence_length=None,
    cache_indirection=None,
    *,
    num_heads=None,
    unidirectional=0,
    scale=None,
    mask_filter_value=None,
    _num_outputs=1,
):
    """Self/cross attention over separate or packed Q/K/V with input-projection bias and past state."""
    if not num_heads:
        raise ValueError("MultiHeadAttention requires a positive num_heads")
    if cache_indirection is not None:
        raise ValueError("MultiHeadAttention: cache_indirection (beam search) is not supported")
    q, k, v, projected_kv = _mha_qkv(query, key, value, bias, num_heads)
    past_len = 0
    if past_key is not None and past_value is not None and not projected_kv:
        past_len = past_key.shape[2]
        k = np.concatenate([past_key, k], axis=2)
        v = np.concatenate([past_value, v], axis=2)
    batch, _, seq, head_size = q.shape
    total = k.shape[2]
    fill = -10000.0 if mask_filter_value is None else mask_filter_value
    additive = []
    if key_padding_mask is not None:
        additive.append(_mask_bias(key_padding_mask, batch, seq, total, past_len, fill))
    if attention_bias is not None:
        additive.append(attention_bias)
    scale = 1.0 / np.sqrt(head_size) if not scale else scale
    out, qk = _attend(q, k, v, scale, additive, bool(unidirectional), _num_outputs > 3)
    outputs = (_merge_heads(out).astype(query.dtype, copy=False), k, v, qk)
    return outputs[:_num_outputs] if _num_outputs > 1 else outputs[0]


def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, interleaved: bool) -> np.ndarray:
    """Rotate the pairs of the last dim of x (B, N, S, R) by angles with cos/sin of shape (B|1, 1, S, R/2)."""
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
    else:
        x1, x2 = np.split(x, 2, axis=-1)
    r1 = x1 * cos - x2 * sin
    r2 = x2 * cos + x1 * sin
    if interleaved:
        return np.stack([r1, r2], axis=-1).reshape(x.shape)
    return np.concatenate([r1, r2], axis=-1)


@kernel("RotaryEmbedding", since=1, domain=MS)
def rotary_embedding(
    input,
    position_ids,
    cos_cache,
    sin_cache,
    *,
    interleaved=0,
    num_heads=0,
    rotary_embedding_dim=0,
    is_packed_batching=0,
    scale=1.0,
):
    """RoPE on the first rotary_embedding_dim features of every head; cos/sin looked up by position.

    ``scale`` is accepted and, as in onnxruntime's CPU kernel, has no effect."""
    if is_packed_batching:
        raise ValueError("RotaryEmbedding: is_packed_batching is not supported")
    if input.ndim == 4:
        x = input
    elif input.ndim == 3:
        heads = num_heads or input.shape[-1] // (2 * cos_cache.shape[1])
        x = split_heads(input, heads, "input")
    else:
        raise ValueError(f"RotaryEmbedding input must be 3-D or 4-D, not {input.ndim}-D")
    seq, head_size = x.shape[2], x.shape[3]
    rot = rotary_embedding_dim or head_size
    if rot > head_size or rot % 2 or cos_cache.shape[1] * 2 < rot:
        raise ValueError(f"rotary dimension {rot} does not fit head size {head_size} and cache {cos_cache.shape}")
    if position_ids.size == 1:
        positions = int(position_ids.reshape(-1)[0]) + np.arange(seq)[None, :]
    else:
        positions = position_ids
    cos = np.take(cos_cache[:, : rot // 2], positions, axis=0)[:, None]
    sin = np.take(sin_cache[:, : rot // 2], positions, axis=0)[:, None]
    rotated = _rotate(x[..., :rot], cos, sin, bool(interleaved))
    if rot < head_size:
        rotated = np.concatenate([rotated, x[..., rot:]], axis=-1)
    rotated = rotated.astype(input.dtype, copy=False)
    return _merge_heads(rotated) if input.ndim == 3 else rotated
