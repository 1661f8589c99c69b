"""Attention-like operators: Attention, FlexAttention, LinearAttention, RotaryEmbedding and SwiGLU.

Attention follows the opset 23/24/25 schema: 3-D or 4-D Q/K/V, grouped-query heads,
boolean or additive masks, offset-aware (bottom-right) causal masks, sliding windows,
softcap, an internal KV cache (past_* -> present_*) or an external one (nonpad_kv_seqlen),
and the optional qk_matmul_output. A query row with no attendable key yields zeros.
"""

from __future__ import annotations

import numpy as np

from onyx.model.types import np_dtype
from onyx.ops.registry import kernel


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Half-precision inputs are computed in float32."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else np.dtype(dtype)


def split_heads(x: np.ndarray, num_heads: int | None, name: str) -> np.ndarray:
    """(batch, seq, heads * size) -> (batch, heads, seq, size) view of the 3-D input ``name``."""
    if not num_heads:
        raise ValueError(f"3-D {name} needs the q_num_heads and kv_num_heads attributes")
    batch, seq, hidden = x.shape
    if hidden % num_heads:
        raise ValueError(f"{name} hidden size {hidden} is not a multiple of {num_heads} heads")
    return x.reshape(batch, seq, num_heads, hidden // num_heads).transpose(0, 2, 1, 3)


def _softmax(scores: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis; an all -inf row gives zeros, not NaN."""
    peak = scores.max(axis=-1, keepdims=True)
    peak = np.where(np.isneginf(peak), 0, peak)
    e = np.exp(scores - peak)
    total = e.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    e /= total
    return e


def _grouped_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """q (B, Hq, L, E) @ k (B, Hkv, S, E)^T -> (B, Hq, L, S); query head h uses KV head h // (Hq / Hkv).

    Each KV head's query group is stacked along the rows, so one plain batched matmul serves it
    (no repeated K/V in memory, no broadcast matmul, which NumPy runs without BLAS).
    """
    batch, q_heads, q_len, size = q.shape
    kv_heads = k.shape[1]
    if q_heads % kv_heads:
        raise ValueError(f"{q_heads} query heads are not a multiple of {kv_heads} key/value heads")
    stacked = q.reshape(batch, kv_heads, q_heads // kv_heads * q_len, size)
    return np.matmul(stacked, k.swapaxes(-1, -2)).reshape(batch, q_heads, q_len, k.shape[2])


def _grouped_values(probs: np.ndarray, v: np.ndarray) -> np.ndarray:
    """probs (B, Hq, L, S) @ v (B, Hkv, S, Ev) -> (B, Hq, L, Ev) with the same head grouping."""
    batch, q_heads, q_len, kv_len = probs.shape
    kv_heads = v.shape[1]
    stacked = probs.reshape(batch, kv_heads, q_heads // kv_heads * q_len, kv_len)
    return np.matmul(stacked, v).reshape(batch, q_heads, q_len, v.shape[-1])


def _allowed_keys(
    q_len: int,
    kv_len: int,
    offset: int | np.ndarray,
    is_causal: int,
    left_window_size: int,
    right_window_size: int,
) -> np.ndarray | None:
    """Boolean [q, kv] (or [batch, 1, q, kv] for per-batch offsets) of keys the causal/window rules allow."""
    if not is_causal and left_window_size < 0 and right_window_size < 0:
        return None
    position = np.arange(q_len)[:, None] + np.reshape(offset, (-1, 1, 1, 1) if np.ndim(offset) else ())
    distance = position - np.arange(kv_len)  # query position minus key index
    allowed = np.ones(distance.shape, dtype=bool)
    if is_causal:
        allowed &= distance >= 0
    if left_window_size >= 0:
        allowed &= distance <= left_window_size
    if right_window_size >= 0:
        allowed &= -distance <= right_window_size
    return allowed


def _attention_bias(
    attn_mask: np.ndarray | None,
    allowed: np.ndarray | None,
    nonpad_kv_seqlen: np.ndarray | None,
    kv_len: int,
    dtype: np.dtype,
) -> np.ndarray | None:
    """Additive bias (0 / mask value where attended, -inf where not), or None when nothing is masked."""
    bias = None
    if attn_mask is not None:
        pad = kv_len - attn_mask.shape[-1]
        if pad < 0:
            raise ValueError(f"attn_mask covers {attn_mask.shape[-1]} keys, more than the {kv_len} keys")
        if attn_mask.dtype == np.bool_:
            allowed_by_mask = attn_mask
            if pad:
                allowed_by_mask = np.pad(attn_mask, [(0, 0)] * (attn_mask.ndim - 1) + [(0, pad)])
            allowed = allowed_by_mask if allowed is None else allowed & allowed_by_mask
        else:
            bias = attn_mask.astype(dtype, copy=False)
            if pad:
                bias = np.pad(bias, [(0, 0)] * (bias.ndim - 1) + [(0, pad)], constant_values=-np.inf)
    if nonpad_kv_seqlen is not None:
        lens = np.asarray(nonpad_kv_seqlen, dtype=np.int64).reshape(-1, 1, 1, 1)
        padding = np.arange(kv_len) < lens
        allowed = padding if allowed is None else allowed & padding
    if allowed is None:
        return bias
    return np.where(allowed, dtype.type(0) if bias is None else bias, dtype.type(-np.inf))


def _attention(
    Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, *, is_causal, kv_num_heads, q_num_heads,
    qk_matmul_output_mode, scale, softcap, softmax_precision, left_window_size, right_window_size, num_outputs,
):
    """Scaled dot-product attention; returns (Y, present_key, present_value, qk_matmul_output)."""
    out_dtype = Q.dtype
    dtype = _compute_dtype(out_dtype)
    if not Q.ndim == K.ndim == V.ndim or Q.ndim not in (3, 4):
        raise ValueError(f"Q, K, V must all be 3-D or all 4-D, got {Q.shape}, {K.shape}, {V.shape}")
    is_3d = Q.ndim == 3
    if is_3d:
        Q = split_heads(Q, q_num_heads, "Q")
        K = split_heads(K, kv_num_heads, "K")
        V = split_heads(V, kv_num_heads, "V")
    if (past_key is None) != (past_value is None):
        raise ValueError("past_key and past_value must be given together")
    if past_key is not None:
        if nonpad_kv_seqlen is not None:
            raise ValueError("nonpad_kv_seqlen cannot be combined with past_key/past_value")
        K = np.concatenate((past_key, K), axis=2)
        V = np.concatenate((past_value, V), axis=2)
    present_key, present_value = K, V

    batch, q_len, head_size = Q.shape[0], Q.shape[2], Q.shape[3]
    kv_len = K.shape[2]

    if past_key is not None:
        offset: int | np.ndarray = past_key.shape[2]
    elif nonpad_kv_seqlen is not None:
        offset = np.asarray(nonpad_kv_seqlen, dtype=np.int64).reshape(-1) - q_len
    else:
        offset = 0
    allowed = _allowed_keys(q_len, kv_len, offset, is_causal, left_window_size, right_window_size)
    bias = _attention_bias(attn_mask, allowed, nonpad_kv_seqlen, kv_len, dtype)

    scale = 1.0 / np.sqrt(head_size) if scale is None else scale
    scores = _grouped_scores(Q.astype(dtype, copy=False) * dtype.type(scale), K.astype(dtype, copy=False))
    qk_out = scores if num_outputs > 3 and qk_matmul_output_mode == 0 else None
    if softcap and softcap > 0:
        scores = np.tanh(scores / dtype.type(softcap)) * dtype.type(softcap)
    if num_outputs > 3 and qk_matmul_output_mode == 1:
        qk_out = scores
    if bias is not None:
        scores = scores + bias
    if num_outputs > 3 and qk_matmul_output_mode == 2:
        qk_out = scores
    if softmax_precision is not None:
        scores = scores.astype(np.promote_types(dtype, np_dtype(softmax_precision)), copy=False)
    probs = _softmax(scores)
    if bias is not None:
        fully_masked = np.isneginf(bias).all(axis=-1, keepdims=True)
        if fully_masked.any():
            probs = np.where(fully_masked, probs.dtype.type(0), probs)
    probs = probs.astype(dtype, copy=False)
    if num_outputs > 3 and qk_matmul_output_mode == 3:
        qk_out = probs
    Y = _grouped_values(probs, V.astype(dtype, copy=False))
    if is_3d:
        Y = Y.transpose(0, 2, 1, 3).reshape(batch, q_len, -1)
    qk_result = None if qk_out is None else np.ascontiguousarray(qk_out, dtype=out_dtype)
    if num_outputs > 3 and qk_result is None:
        raise ValueError(f"qk_matmul_output_mode must be 0, 1, 2 or 3, got {qk_matmul_output_mode}")
    return Y.astype(out_dtype, copy=False), present_key, present_value, qk_result


@kernel("Attention", since=(23, 24))
def attention_23(Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
                 kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
                 softmax_precision=None, _num_outputs=1):
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, is_causal=is_causal,
                      kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left_window_size=-1, right_window_size=-1,
                      num_outputs=_num_outputs)


@kernel("Attention", since=25)
def attention_25(Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
                 kv_num_heads=None, left_window_size=-1, q_num_heads=None, qk_matmul_output_mode=0,
                 right_window_size=-1, scale=None, softcap=0.0, softmax_precision=None, _num_outputs=1):
    if Q.ndim == 4 and (q_num_heads is not None or kv_num_heads is not None):
        raise ValueError("q_num_heads and kv_num_heads must not be given with 4-D inputs")
    if left_window_size < -1 or right_window_size < -1:
        raise ValueError("left_window_size and right_window_size must be -1 or non-negative")
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, is_causal=is_causal,
                      kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left_window_size=left_window_size,
                      right_window_size=right_window_size, num_outputs=_num_outputs)


@kernel("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(Q, K, V, *, prob_mod=None, score_mod=None, scale=None, softmax_precision=None, _outer=None):
    """Y = prob_mod(Softmax(score_mod(Q @ K^T * scale))) @ V; the modifiers are optional subgraphs."""
    if not Q.ndim == K.ndim == V.ndim == 4:
        raise ValueError(f"FlexAttention needs 4-D Q, K, V, got {Q.shape}, {K.shape}, {V.shape}")
    if softmax_precision is not None:
        dtype = np.dtype(np_dtype(softmax_precision))
    else:
        dtype = np.dtype(np.float64 if Q.dtype == np.float64 else np.float32)
    outer = _outer or {}
    scale = 1.0 / np.sqrt(Q.shape[-1]) if scale is None else scale
    scores = _grouped_scores(Q.astype(dtype, copy=False), K.astype(dtype, copy=False)) * dtype.type(scale)
    if score_mod is not None:
        scores = np.asarray(score_mod.run([scores], outer)[0], dtype=dtype)
    probs = _softmax(scores)
    if prob_mod is not None:
        probs = np.asarray(prob_mod.run([probs], outer)[0], dtype=dtype)
    return _grouped_values(probs, V.astype(dtype, copy=False)).astype(Q.dtype, copy=False)


@kernel("RotaryEmbedding", since=23)
def rotary_embedding(X, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=None,
                     rotary_embedding_dim=0):
    """Rotate the first rotary_embedding_dim features of each head by position-dependent angles."""
    if X.ndim == 3:
        if not num_heads:
            raise ValueError("3-D input needs the num_heads attribute")
        batch, seq, hidden = X.shape
        x = X.reshape(batch, seq, num_heads, hidden // num_heads)  # (B, S, H, D)
        head_axis = 2
    elif X.ndim == 4:
        x = X  # (B, H, S, D)
        head_axis = 1
    else:
        raise ValueError(f"RotaryEmbedding input must be 3-D or 4-D, got shape {X.shape}")
    head_size = x.shape[-1]
    dim = rotary_embedding_dim or head_size
    half = dim // 2
    if position_ids is not None:
        cos_cache, sin_cache = cos_cache[position_ids], sin_cache[position_ids]
    if cos_cache.shape[-1] != half or sin_cache.shape[-1] != half:
        raise ValueError(f"cos/sin caches must have last dimension {half}, got {cos_cache.shape}, {sin_cache.shape}")
    # caches are (B, S, d): add the head axis so they broadcast against x
    cos, sin = np.expand_dims(cos_cache, head_axis), np.expand_dims(sin_cache, head_axis)
    if interleaved:
        x1, x2 = x[..., 0:dim:2], x[..., 1:dim:2]
    else:
        x1, x2 = x[..., :half], x[..., half:dim]
    out = x.copy()
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if interleaved:
        out[..., 0:dim:2], out[..., 1:dim:2] = real, imag
    else:
        out[..., :half], out[..., half:dim] = real, imag
    return out.reshape(X.shape)


@kernel("SwiGLU", since=28)
def swiglu(A, B, *, alpha=1.0):
    """Y = A * Sigmoid(alpha * A) * B."""
    if A.shape != B.shape:
        raise ValueError(f"SwiGLU inputs must have the same shape, got {A.shape} and {B.shape}")
    dtype = _compute_dtype(A.dtype)
    a = A.astype(dtype, copy=False)
    gate = np.tanh(a * dtype.type(alpha * 0.5)) * dtype.type(0.5) + dtype.type(0.5)
    return (a * gate * B.astype(dtype, copy=False)).astype(A.dtype, copy=False)


_LINEAR_ATTENTION_RULES = ("linear", "gated", "delta", "gated_delta")


def _per_head(x: np.ndarray, heads: int, name: str) -> np.ndarray:
    """(B, T, H*D) -> (B, T, H, D)."""
    if x.ndim != 3 or x.shape[-1] % heads:
        raise ValueError(f"{name} must be (batch, time, {heads} * size), got shape {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], heads, x.shape[-1] // heads)


@kernel("LinearAttention", since=27)
def linear_attention(query, key, value, past_state=None, decay=None, beta=None, *, chunk_size=64,
                     kv_num_heads=None, q_num_heads=None, scale=0.0, update_rule="gated_delta"):
    """Recurrent linear attention: per step, decay and/or delta-correct the state, add k (x) v, read with q."""
    if update_rule not in _LINEAR_ATTENTION_RULES:
        raise ValueError(f"update_rule must be one of {_LINEAR_ATTENTION_RULES}, got '{update_rule}'")
    if not q_num_heads or not kv_num_heads or q_num_heads % kv_num_heads:
        raise ValueError(f"q_num_heads ({q_num_heads}) must be a positive multiple of kv_num_heads ({kv_num_heads})")
    gated = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gated != (decay is not None):
        raise ValueError(f"update_rule '{update_rule}' {'needs' if gated else 'takes no'} decay input")
    if delta != (beta is not None):
        raise ValueError(f"update_rule '{update_rule}' {'needs' if delta else 'takes no'} beta input")

    dtype = _compute_dtype(query.dtype)
    q = _per_head(query, q_num_heads, "query").astype(dtype, copy=False)
    k = _per_head(key, kv_num_heads, "key").astype(dtype, copy=False)
    v = _per_head(value, kv_num_heads, "value").astype(dtype, copy=False)
    batch, steps, _, d_k = q.shape
    d_v = v.shape[-1]
    group = q_num_heads // kv_num_heads
    q = q.reshape(batch, steps, kv_num_heads, group, d_k)
    if gated:
        if decay.shape[-1] not in (kv_num_heads, kv_num_heads * d_k):
            raise ValueError(f"decay last dimension must be {kv_num_heads} or {kv_num_heads * d_k}")
        # (B, T, H_kv, d_k or 1, 1): multiplies the state's key rows
        gate = np.exp(_per_head(decay, kv_num_heads, "decay").astype(dtype, copy=False))[..., None]
    if delta:
        if beta.ndim != 3 or beta.shape[-1] not in (kv_num_heads, 1):
            raise ValueError(f"beta must be (batch, time, {kv_num_heads} or 1), got shape {beta.shape}")
        rate = beta.astype(dtype, copy=False)[..., None]  # (B, T, H_kv or 1, 1)

    if past_state is None:
        state = np.zeros((batch, kv_num_heads, d_k, d_v), dtype=dtype)
        state_dtype = query.dtype
    else:
        if past_state.shape != (batch, kv_num_heads, d_k, d_v):
            raise ValueError(f"past_state shape {past_state.shape} is not {(batch, kv_num_heads, d_k, d_v)}")
        state = past_state.astype(dtype)
        state_dtype = past_state.dtype
    scale = dtype.type(scale if scale else 1.0 / np.sqrt(d_k))

    out = np.empty((batch, steps, kv_num_heads, group, d_v), dtype=dtype)
    for t in range(steps):
        k_t, v_t = k[:, t], v[:, t]
        if gated:
            state *= gate[:, t]
        if delta:
            retrieved = np.matmul(k_t[:, :, None, :], state)[:, :, 0]
            v_t = rate[:, t] * (v_t - retrieved)
        state += k_t[..., :, None] * v_t[..., None, :]
        np.matmul(q[:, t], state, out=out[:, t])
    out *= scale
    output = out.reshape(batch, steps, q_num_heads * d_v).astype(query.dtype, copy=False)
    return output, state.astype(state_dtype, copy=False)
