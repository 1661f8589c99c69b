"""Numeric preprocessing: Normalizer, Scaler, Binarizer, Imputer, ArrayFeatureExtractor, FeatureVectorizer."""

from __future__ import annotations

import numpy as np

from onyx.ops.registry import kernel

ML = "ai.onnx.ml"


@kernel("Normalizer", since=1, domain=ML)
def normalizer(X, *, norm="MAX"):
    """Each row divided by its max (MAX), sum of absolute values (L1) or Euclidean norm (L2);
    rows whose divisor is zero are left unchanged."""
    x = np.asarray(X, dtype=np.float64)
    if norm == "MAX":
        divisor = x.max(axis=-1, keepdims=True)
    elif norm == "L1":
        divisor = np.abs(x).sum(axis=-1, keepdims=True)
    elif norm == "L2":
        divisor = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    else:
        raise ValueError(f"norm '{norm}' is not one of MAX, L1, L2")
    return np.divide(x, divisor, out=x.copy(), where=divisor != 0).astype(np.float32)


def _per_feature(values, name: str, n_features: int) -> np.ndarray:
    """An attribute of length 1 or F, checked against the last dimension."""
    array = np.asarray(values if values is not None else [], dtype=np.float64)
    if array.size not in (1, n_features):
        raise ValueError(f"{name} must have 1 or {n_features} values, got {array.size}")
    return array


@kernel("Scaler", since=1, domain=ML)
def scaler(X, *, offset=None, scale=None):
    """Y = (X - offset) * scale, offset and scale per feature (last axis) or single values."""
    x = np.asarray(X)
    n = x.shape[-1] if x.ndim else 1
    shift = _per_feature(offset if offset else [0.0], "offset", n)
    factor = _per_feature(scale if scale else [1.0], "scale", n)
    return ((x - shift) * factor).astype(np.float32)


@kernel("Binarizer", since=1, domain=ML)
def binarizer(X, *, threshold=0.0):
    x = np.asarray(X)
    return (x > threshold).astype(x.dtype)


@kernel("Imputer", since=1, domain=ML)
def imputer(X, *, imputed_value_floats=None, imputed_value_int64s=None, replaced_value_float=0.0,
            replaced_value_int64=0):
    """Replace the elements equal to the replaced value (NaN matches NaN) by the imputed value(s)."""
    x = np.asarray(X)
    n = x.shape[-1] if x.ndim else 1
    if x.dtype.kind == "f":
        fill = _per_feature(imputed_value_floats, "imputed_value_floats", n)
        missing = np.isnan(x) if np.isnan(replaced_value_float) else x == replaced_value_float
    else:
        fill = _per_feature(imputed_value_int64s, "imputed_value_int64s", n).astype(np.int64)
        missing = x == replaced_value_int64
    return np.where(missing, fill.astype(x.dtype), x)


@kernel("ArrayFeatureExtractor", since=1, domain=ML)
def array_feature_extractor(X, Y):
    """X[..., Y] along the last axis; a 1-D X gives a [1, len(Y)] result."""
    x = np.asarray(X)
    indices = np.asarray(Y, dtype=np.int64).reshape(-1)
    n = x.shape[-1]
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise ValueError(f"an index in Y is out of range for a last dimension of {n}")
    z = np.take(x, indices, axis=-1)
    return z.reshape(1, -1) if x.ndim == 1 else z


@kernel("FeatureVectorizer", since=1, domain=ML)
def feature_vectorizer(*X, inputdimensions=None):
    """Concatenate [N, C_i] inputs (1-D ones are [1, C]) along axis 1, each cut or zero-padded to
    inputdimensions[i] columns, as float32."""
    matrices = [np.asarray(x).reshape(1, -1) if np.ndim(x) <= 1 else np.asarray(x) for x in X]
    matrices = [m.reshape(m.shape[0], -1) for m in matrices]
    widths = list(inputdimensions) if inputdimensions else [m.shape[1] for m in matrices]
    if len(widths) != len(matrices):
        raise ValueError(f"inputdimensions has {len(widths)} entries for {len(matrices)} inputs")
    rows = {m.shape[0] for m in matrices}
    if len(rows) > 1:
        raise ValueError(f"inputs have different numbers of rows: {sorted(rows)}")
    out = np.zeros((rows.pop() if rows else 0, sum(widths)), dtype=np.float32)
    start = 0
    for m, width in zip(matrices, widths):
        used = min(width, m.shape[1])
        out[:, start:start + used] = m[:, :used]
        start += width
    return out
