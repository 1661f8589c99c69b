"""FusedAttention (domain "ai.onyx"): Softmax(scale * Q @ KT + mask) @ V over the last axis.

The scores of long sequences do not fit in cache (Whisper's encoder: 6 heads x 1,500 x 1,500
floats, 54 MB), and each pass of a softmax over them then runs at memory speed. So each head is
done in blocks of query rows whose scores stay in cache, and the passes are fewer: the scale is
applied to Q (S x h) instead of the scores (S x T), and the softmax's division to the product
(S x h) instead of the probabilities: softmax(s) @ V = (exp(s - max) @ V) / sum(exp(s - max)).
"""

from __future__ import annotations

import numpy as np

from onyx.compiled import compiled_variant, named
from onyx.ops.registry import kernel

DOMAIN = "ai.onyx"
# scores per block: 128K float32 (512 KB) stay in the L2 caches of most CPUs of today
BLOCK_SCORES = 1 << 17


def _block_rows(total: int, rows: int) -> int:
    """Query rows per block so that a block holds about BLOCK_SCORES scores (rows x total)."""
    return max(16, min(rows, BLOCK_SCORES // max(total, 1)))


def _attend(q: np.ndarray, kt: np.ndarray, v: np.ndarray, mask: np.ndarray | None, nan_to_zero: bool,
            exp_rows=None) -> np.ndarray:
    """softmax(q @ kt + mask) @ v for one block of (broadcast) heads; q already scaled;
    ``exp_rows(scores, top)``: the compiled exp(scores - top) in place, returning the row sums."""
    scores = np.matmul(q, kt)
    if mask is not None:
        if np.broadcast_shapes(scores.shape, mask.shape) == scores.shape:
            scores += mask
        else:
            scores = scores + mask
    top = scores.max(axis=-1, keepdims=True)
    if not np.isfinite(top).all():
        # a row of -inf, +inf or NaN scores: its softmax is NaN (fully masked rows), kept exactly
        # as the unfused operators compute it, NaN or, after IsNaN/Where, zero
        with np.errstate(invalid="ignore"):
            scores -= top
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
        if nan_to_zero:
            scores[np.isnan(scores)] = 0
        return np.matmul(scores, v)
    total = None if exp_rows is None else exp_rows(scores, top)
    if total is None:
        scores -= top
        np.exp(scores, out=scores)
        total = scores.sum(axis=-1, keepdims=True)
    out = np.matmul(scores, v)
    out /= total
    return out


def _mask_rows(mask: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    """The mask's rows start:stop (a mask broadcast along the rows is used whole)."""
    if mask is None or mask.ndim < 2 or mask.shape[-2] == 1:
        return mask
    return mask[..., start:stop, :]


def _choose_compiled(node, numpy_kernel, *, scale=1.0, nan_to_zero=0):
    """The same with the softmax's exponentials and row sums in one compiled pass (float32)."""
    from onyx.ops.fast import softmax

    exp_rows = softmax.exp_rows(node)
    if exp_rows is None:
        return None

    def run(Q, KT, V, mask=None):
        return attention(Q, KT, V, mask, scale, nan_to_zero, exp_rows)

    return named(run, "compiled:attention")


@kernel("FusedAttention", since=1, domain=DOMAIN)
@compiled_variant(_choose_compiled)
def fused_attention(Q, KT, V, mask=None, *, scale=1.0, nan_to_zero=0):
    """Softmax(scale * Q @ KT + mask) @ V, the softmax over the last axis; ``nan_to_zero``: NaN
    probabilities (rows masked entirely) count as zero, as the modern exporter's IsNaN/Where writes."""
    return attention(Q, KT, V, mask, scale, nan_to_zero)


def attention(Q, KT, V, mask, scale, nan_to_zero, exp_rows=None):
    """FusedAttention's computation (``exp_rows``: see _attend)."""
    dtype = Q.dtype
    work = np.float32 if dtype == np.float16 or dtype.kind != "f" else dtype
    q = Q.astype(work, copy=scale != 1.0)
    if scale != 1.0:
        q *= q.dtype.type(scale)
    kt, v = KT.astype(work, copy=False), V.astype(work, copy=False)
    if mask is not None:
        mask = mask.astype(work, copy=False)
        mask = mask.reshape((1,) * (2 - mask.ndim) + mask.shape) if mask.ndim < 2 else mask
    rows, total = q.shape[-2], kt.shape[-1]
    step = _block_rows(total, rows)
    if step >= rows or q.ndim < 2:
        return _attend(q, kt, v, mask, bool(nan_to_zero), exp_rows).astype(dtype, copy=False)
    batch = np.broadcast_shapes(q.shape[:-2], kt.shape[:-2], v.shape[:-2],
                                () if mask is None else mask.shape[:-2])
    out = np.empty(batch + (rows, v.shape[-1]), dtype=work)
    q, kt, v = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (q, kt, v))
    if mask is not None:
        mask = np.broadcast_to(mask, batch + mask.shape[-2:])
    for head in np.ndindex(*batch):
        head_mask = None if mask is None else mask[head]
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            out[head + (slice(start, stop),)] = _attend(q[head][start:stop], kt[head], v[head],
                                                        _mask_rows(head_mask, start, stop), bool(nan_to_zero),
                                                        exp_rows)
    return out.astype(dtype, copy=False)
