"""Support vector machines: SVMClassifier (one-vs-one, libsvm-style probabilities) and SVMRegressor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx.ops.ml.common import as_2d, class_labels, transform_scores
from onyx.ops.ml.linear import binary_from_one_score
from onyx.ops.registry import kernel

ML = "ai.onnx.ml"
KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")
_MIN_PROB = 1e-7


def kernel_matrix(X: np.ndarray, vectors: np.ndarray, kind: str, params) -> np.ndarray:
    """[N, S] kernel values between samples and support vectors; params = (gamma, coef0, degree)."""
    gamma, coef0, degree = (list(params or []) + [0.0, 0.0, 0.0])[:3]
    dot = X @ vectors.T
    if kind == "LINEAR":
        return dot
    if kind == "POLY":
        return (gamma * dot + coef0) ** degree
    if kind == "RBF":  # exp(-gamma * |x - v|^2), in place on the [N, S] product
        dot *= -2.0
        dot += np.einsum("ij,ij->i", X, X)[:, None]
        dot += np.einsum("ij,ij->i", vectors, vectors)[None, :]
        np.clip(dot, 0.0, np.inf, out=dot)  # rounding can make |x - v|^2 slightly negative
        dot *= -gamma
        return np.exp(dot, out=dot)
    if kind == "SIGMOID":
        return np.tanh(gamma * dot + coef0)
    raise ValueError(f"kernel_type '{kind}' is not one of {', '.join(KERNELS)}")


_KERNEL_BLOCK = 1 << 18  # kernel-matrix entries computed at a time (2 MB of float64)


def kernel_product(X: np.ndarray, vectors: np.ndarray, kind: str, params, weights: np.ndarray) -> np.ndarray:
    """kernel_matrix(X, vectors) @ weights, a block of samples at a time (the [N, S] matrix is never whole)."""
    rows = max(1, _KERNEL_BLOCK // max(len(vectors), 1))
    if len(X) <= rows:
        return kernel_matrix(X, vectors, kind, params) @ weights
    out = np.empty((len(X),) + weights.shape[1:])
    for start in range(0, len(X), rows):
        out[start : start + rows] = kernel_matrix(X[start : start + rows], vectors, kind, params) @ weights
    return out


@dataclass
class OneVsOne:
    """A libsvm multi-class model rearranged for matrix products over all class pairs."""

    vectors: np.ndarray  # [S, F] support vectors
    pair_weights: np.ndarray  # [S, pairs]: the dual coefficients each pair's decision uses
    rho: np.ndarray  # [pairs]
    first: np.ndarray  # [pairs] class i of pair (i, j), i < j, in libsvm order
    second: np.ndarray  # [pairs] class j


def one_vs_one(n_classes: int, vectors_per_class, support_vectors, coefficients, rho) -> OneVsOne:
    counts = np.asarray(vectors_per_class, dtype=np.int64)
    if len(counts) != n_classes:
        raise ValueError(f"vectors_per_class has {len(counts)} entries for {n_classes} classes")
    n_sv = int(counts.sum())
    vectors = np.asarray(support_vectors, dtype=np.float64).reshape(n_sv, -1)
    coef = np.asarray(coefficients, dtype=np.float64).reshape(n_classes - 1, n_sv)
    starts = np.concatenate([[0], np.cumsum(counts)])
    first, second = np.triu_indices(n_classes, k=1)
    weights = np.zeros((n_sv, len(first)))
    for p, (i, j) in enumerate(zip(first, second)):
        weights[starts[i]:starts[i + 1], p] = coef[j - 1, starts[i]:starts[i + 1]]
        weights[starts[j]:starts[j + 1], p] = coef[i, starts[j]:starts[j + 1]]
    rho = np.asarray(rho, dtype=np.float64)
    if len(rho) != len(first):
        raise ValueError(f"rho has {len(rho)} values for {len(first)} class pairs")
    return OneVsOne(vectors, weights, rho, first, second)


def pairwise_coupling(r: np.ndarray) -> np.ndarray:
    """Class probabilities [N, k] from pairwise ones r[n, i, j] = P(i | i or j) (Wu, Lin and Weng's
    second method, iterated per sample until libsvm's stopping rule holds)."""
    n, k = r.shape[:2]
    Q = -r.transpose(0, 2, 1) * r
    diag = np.arange(k)
    Q[:, diag, diag] = (r.transpose(0, 2, 1) ** 2).sum(axis=2) - r[:, diag, diag] ** 2
    p = np.full((n, k), 1.0 / k)
    active = np.arange(n)
    for _ in range(max(100, k)):
        q, pa = Q[active], p[active]
        Qp = np.einsum("nij,nj->ni", q, pa)
        pQp = (pa * Qp).sum(axis=1)
        keep = np.abs(Qp - pQp[:, None]).max(axis=1) >= 0.005 / k
        active, q, pa, Qp, pQp = active[keep], q[keep], pa[keep], Qp[keep], pQp[keep]
        if active.size == 0:
            break
        for t in range(k):
            diff = (pQp - Qp[:, t]) / q[:, t, t]
            pa[:, t] += diff
            scale = 1.0 + diff
            pQp = (pQp + diff * (diff * q[:, t, t] + 2.0 * Qp[:, t])) / scale / scale
            Qp = (Qp + diff[:, None] * q[:, t, :]) / scale[:, None]
            pa /= scale[:, None]
        p[active] = pa
    return p


def svm_probabilities(decisions: np.ndarray, model: OneVsOne, n_classes: int, prob_a, prob_b) -> np.ndarray:
    """Platt-scaled pairwise probabilities coupled into class probabilities."""
    f = decisions * np.asarray(prob_a, dtype=np.float64) + np.asarray(prob_b, dtype=np.float64)
    with np.errstate(over="ignore"):
        pair = np.where(f >= 0, np.exp(-np.abs(f)) / (1.0 + np.exp(-np.abs(f))), 1.0 / (1.0 + np.exp(-np.abs(f))))
    pair = np.clip(pair, _MIN_PROB, 1.0 - _MIN_PROB)
    r = np.zeros((len(decisions), n_classes, n_classes))
    r[:, model.first, model.second] = pair
    r[:, model.second, model.first] = 1.0 - pair
    return pairwise_coupling(r)


@kernel("SVMClassifier", since=1, domain=ML, prepare=True)
def svm_classifier(*, classlabels_ints=None, classlabels_strings=None, coefficients=None, kernel_params=None,
                   kernel_type="LINEAR", post_transform="NONE", prob_a=None, prob_b=None, rho=None,
                   support_vectors=None, vectors_per_class=None):
    """One-vs-one voting over libsvm's pairwise decisions; Z holds probabilities when prob_a/prob_b are
    given, else the pairwise decision values. Without support vectors, a linear one-vs-rest model.
    The pairwise model is laid out once per node."""
    labels = class_labels(classlabels_ints, classlabels_strings)
    if not vectors_per_class or not support_vectors:
        def linear(X):
            X = as_2d(X)
            scores = X @ np.asarray(coefficients, dtype=np.float64).reshape(-1, X.shape[1]).T
            scores += np.asarray(rho, dtype=np.float64) if rho else 0.0
            if scores.shape[1] == 1:
                return binary_from_one_score(scores[:, 0], labels, post_transform)
            return labels[np.argmax(scores, axis=1)], transform_scores(scores, post_transform).astype(np.float32)

        return linear
    model = one_vs_one(len(labels), vectors_per_class, support_vectors, coefficients, rho)

    def vote(X):
        X = as_2d(X)
        decisions = kernel_product(X, model.vectors, kernel_type, kernel_params, model.pair_weights) + model.rho
        wins = np.where(decisions > 0, model.first, model.second)
        votes = np.zeros((len(X), len(labels)), dtype=np.int64)
        np.add.at(votes, (np.arange(len(X))[:, None], wins), 1)
        winner = np.argmax(votes, axis=1)
        if prob_a and prob_b:
            scores = svm_probabilities(decisions, model, len(labels), prob_a, prob_b)
        elif len(labels) == 2:
            scores = np.stack([-decisions[:, 0], decisions[:, 0]], axis=1)
        else:
            scores = decisions
        return labels[winner], transform_scores(scores, post_transform).astype(np.float32)

    return vote


@kernel("SVMRegressor", since=1, domain=ML)
def svm_regressor(X, *, coefficients=None, kernel_params=None, kernel_type="LINEAR", n_supports=0, one_class=0,
                  post_transform="NONE", rho=None, support_vectors=None):
    """sum_s coef[s] * K(x, sv[s]) + rho; a one-class model answers 1 (inlier) or -1."""
    X = as_2d(X)
    coef = np.asarray(coefficients, dtype=np.float64)
    if n_supports > 0:
        vectors = np.asarray(support_vectors, dtype=np.float64).reshape(n_supports, -1)
        scores = kernel_product(X, vectors, kernel_type, kernel_params, coef)
    else:
        scores = kernel_matrix(X, coef.reshape(1, -1), kernel_type, kernel_params)[:, 0]
    scores = scores + (rho[0] if rho else 0.0)
    if one_class:
        scores = np.where(scores > 0, 1.0, -1.0)
    return transform_scores(scores[:, None], post_transform).astype(np.float32)
