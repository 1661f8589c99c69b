"""Helpers shared by the ai.onnx.ml kernels: score transforms, class labels, key lookups."""

from __future__ import annotations

from typing import Sequence

import numpy as np

POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")

# Acklam's rational approximation of the inverse standard normal CDF (relative error < 1.2e-9).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00, 1.0)
_P_LOW = 0.02425


def _poly(coeffs: Sequence[float], x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        out = out * x + c
    return out


def probit(p: np.ndarray) -> np.ndarray:
    """The inverse CDF of the standard normal distribution (sqrt(2) * erfinv(2p - 1))."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p - 0.5
        r = q * q
        out = _poly(_A, r) * q / _poly(_B, r)
        tail = np.minimum(p, 1.0 - p)
        t = np.sqrt(-2.0 * np.log(np.where(tail < _P_LOW, tail, 0.5)))
        tail_value = _poly(_C, t) / _poly(_D, t)
        out = np.where(tail < _P_LOW, np.where(p < 0.5, tail_value, -tail_value), out)
    return out


def logistic(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_zero(x: np.ndarray) -> np.ndarray:
    """Softmax over the non-zero scores of each row; zero scores stay zero."""
    e = np.where(x != 0, np.exp(x - x.max(axis=-1, keepdims=True)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total != 0)


def transform_scores(scores: np.ndarray, name: str | int) -> np.ndarray:
    """Apply a post_transform (by name, or by its ml-opset-5 enum value) along the last axis."""
    if isinstance(name, (int, np.integer)):
        if not 0 <= name < len(POST_TRANSFORMS):
            raise ValueError(f"post_transform {name} is not one of 0..{len(POST_TRANSFORMS) - 1}")
        name = POST_TRANSFORMS[name]
    if name == "NONE":
        return scores
    if name == "SOFTMAX":
        return softmax(scores)
    if name == "LOGISTIC":
        return logistic(scores)
    if name == "SOFTMAX_ZERO":
        return softmax_zero(scores)
    if name == "PROBIT":
        return probit(scores)
    raise ValueError(f"post_transform '{name}' is not one of {', '.join(POST_TRANSFORMS)}")


def class_labels(ints: Sequence[int] | None, strings: Sequence[str] | None) -> np.ndarray:
    """The classlabels_* attribute in use as an int64 or object (str) array."""
    if strings:
        return np.array(list(strings), dtype=object)
    if ints:
        return np.asarray(ints, dtype=np.int64)
    raise ValueError("one of the classlabels_* attributes must be given")


def as_2d(x: np.ndarray) -> np.ndarray:
    """[N, F] data as float64; a 1-D input is one sample."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    elif x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    return x.astype(np.float64, copy=False)


def index_in(values: np.ndarray, keys: np.ndarray, last: bool = False, nan_matches: bool = False) -> np.ndarray:
    """Position of each of ``values`` in ``keys``, -1 where absent.

    A repeated key resolves to its first (or, with ``last``, its last) position; with
    ``nan_matches`` a NaN key matches any NaN value. Numeric keys are looked up with a
    sorted search, strings through a dict.
    """
    values = np.asarray(values)
    if keys.dtype == object or values.dtype.kind in "OUS":
        pairs = list(enumerate(keys.tolist()))
        table = {k: i for i, k in (pairs if last else reversed(pairs))}
        flat = values.reshape(-1).tolist()
        return np.fromiter((table.get(v, -1) for v in flat), dtype=np.int64, count=len(flat)).reshape(values.shape)
    if keys.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if last:
        pos = np.clip(np.searchsorted(sorted_keys, values, side="right") - 1, 0, None)
    else:
        pos = np.clip(np.searchsorted(sorted_keys, values, side="left"), None, len(keys) - 1)
    hit = sorted_keys[pos]
    found = hit == values
    if nan_matches and sorted_keys.dtype.kind == "f":
        found |= np.isnan(hit) & np.isnan(values)
    return np.where(found, order[pos], -1)
