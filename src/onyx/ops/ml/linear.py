"""Linear models: LinearClassifier and LinearRegressor."""

from __future__ import annotations

import numpy as np

from onyx.ops.ml.common import as_2d, class_labels, transform_scores
from onyx.ops.registry import kernel

ML = "ai.onnx.ml"


def linear_scores(X: np.ndarray, coefficients, intercepts, n_rows: int | None = None) -> np.ndarray:
    """X @ W.T + b in float64, W being ``coefficients`` as [rows, features]."""
    X = as_2d(X)
    coef = np.asarray(coefficients, dtype=np.float64)
    rows = n_rows or max(1, coef.size // max(X.shape[1], 1))
    if coef.size != rows * X.shape[1]:
        raise ValueError(f"{coef.size} coefficients do not fit {rows} row(s) of {X.shape[1]} features")
    scores = X @ coef.reshape(rows, X.shape[1]).T
    if intercepts:
        scores += np.asarray(intercepts, dtype=np.float64)
    return scores


def binary_from_one_score(s: np.ndarray, labels: np.ndarray, transform: str) -> tuple[np.ndarray, np.ndarray]:
    """A two-class model with one score s (the second class's): label by s > 0, scores [1 - v, v] with
    v = s, or its logistic / probit (the softmaxes of one score are not used), as onnxruntime does."""
    if len(labels) != 2:
        raise ValueError(f"one score row needs exactly two class labels, got {len(labels)}")
    v = transform_scores(s, transform) if transform in ("LOGISTIC", "PROBIT") else s
    return labels[(s > 0).astype(np.int64)], np.stack([1.0 - v, v], axis=1).astype(np.float32)


@kernel("LinearClassifier", since=1, domain=ML)
def linear_classifier(X, *, classlabels_ints=None, classlabels_strings=None, coefficients=None, intercepts=None,
                      multi_class=0, post_transform="NONE"):
    """One score per class (multi_class does not change the scores); the label is the best score's."""
    labels = class_labels(classlabels_ints, classlabels_strings)
    if coefficients is None:
        raise ValueError("LinearClassifier needs coefficients")
    scores = linear_scores(X, coefficients, intercepts, len(intercepts) if intercepts else None)
    if scores.shape[1] == 1:
        return binary_from_one_score(scores[:, 0], labels, post_transform)
    if scores.shape[1] != len(labels):
        raise ValueError(f"{scores.shape[1]} score rows for {len(labels)} class labels")
    return labels[np.argmax(scores, axis=1)], transform_scores(scores, post_transform).astype(np.float32)


@kernel("LinearRegressor", since=1, domain=ML)
def linear_regressor(X, *, coefficients=None, intercepts=None, post_transform="NONE", targets=1):
    if coefficients is None:
        raise ValueError("LinearRegressor needs coefficients")
    scores = linear_scores(X, coefficients, intercepts, targets)
    return transform_scores(scores, post_transform).astype(np.float32)
