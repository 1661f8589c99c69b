"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss."""

from __future__ import annotations

import numpy as np

from onyx.ops.registry import kernel

_REDUCTIONS = ("none", "sum", "mean")


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _nll(log_prob: np.ndarray, target: np.ndarray, weight, ignore_index, reduction: str) -> np.ndarray:
    """Weighted negative log likelihood of ``target`` classes under (N, C, d1, ...) log-probabilities."""
    reduction = _str(reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"unknown reduction '{reduction}'")
    if log_prob.ndim < 2 or target.shape != log_prob.shape[:1] + log_prob.shape[2:]:
        raise ValueError(f"target shape {target.shape} does not match input shape {log_prob.shape}")
    target = target.astype(np.int64, copy=False)
    kept = target != ignore_index if ignore_index is not None else np.ones(target.shape, dtype=bool)
    safe_target = np.where(kept, target, 0)
    if ((safe_target < 0) | (safe_target >= log_prob.shape[1])).any():
        raise ValueError(f"target values must lie in [0, {log_prob.shape[1]}) or equal ignore_index")
    picked = np.take_along_axis(log_prob, safe_target[:, None], axis=1)[:, 0]
    sample_weight = weight[safe_target] if weight is not None else np.ones((), dtype=log_prob.dtype)
    sample_weight = np.where(kept, sample_weight, 0).astype(log_prob.dtype, copy=False)
    loss = -picked * sample_weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss).astype(log_prob.dtype)
    return (np.sum(loss) / np.sum(np.broadcast_to(sample_weight, loss.shape))).astype(log_prob.dtype)


@kernel("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(input, target, weight, ignore_index, reduction)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@kernel("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    """Loss and the log-probabilities (log_softmax over the class axis 1)."""
    log_prob = _log_softmax(scores, axis=1)
    return _nll(log_prob, labels, weights, ignore_index, reduction), log_prob
