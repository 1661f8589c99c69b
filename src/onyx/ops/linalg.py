"""Matrix operators: MatMul, Gemm, Einsum, Det, TopK."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis

_LOW_PRECISION = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16/bfloat16 have no BLAS in NumPy: compute them in float32 (faster, and accumulates wider)."""
    return np.dtype(np.float32) if dtype in _LOW_PRECISION else dtype


@kernel("MatMul", since=1)
def mat_mul(a, b):
    """N-D matmul with NumPy's broadcasting of the batch dimensions and 1-D promotion."""
    if a.dtype in _LOW_PRECISION:
        return mat_mul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    if a.ndim > 2 and b.ndim == 2:
        # (..., M, K) @ (K, N) is one large (prod(...)*M, K) @ (K, N) product: NumPy would
        # otherwise loop over the leading dims with many small products (a copy of a
        # transposed view costs far less than that loop).
        a = np.ascontiguousarray(a)
        return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[1],))
    return np.matmul(a, b)


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, alpha: float, beta: float, trans_a: int, trans_b: int):
    """Y = alpha * op(A) @ op(B) + beta * C, C broadcast to (M, N); transposes are views."""
    dtype = a.dtype
    work = _compute_dtype(dtype)
    a = a.astype(work, copy=False)
    b = b.astype(work, copy=False)
    y = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if alpha != 1:
        y *= np.asarray(alpha).astype(y.dtype)
    if c is not None and beta != 0:
        c = c.astype(work, copy=False)
        y += c if beta == 1 else c * np.asarray(beta).astype(work)
    return y.astype(dtype, copy=False)


@kernel("Gemm", since=(1, 7))
def gemm_kernel(A, B, C=None, *, alpha=1.0, beta=1.0, broadcast=0, transA=0, transB=0):
    """Before opset 7, ``broadcast`` allows C smaller than (M, N): NumPy's broadcasting covers both."""
    return gemm(A, B, C, alpha, beta, transA, transB)


@kernel("Einsum", since=12)
def einsum(*inputs, equation=None):
    if not equation:
        raise ValueError("Einsum needs an equation")
    equation = equation.replace(" ", "")
    dtype = inputs[0].dtype if inputs else np.dtype(np.float32)
    work = _compute_dtype(dtype)
    out = np.einsum(equation, *(x.astype(work, copy=False) for x in inputs), optimize=len(inputs) > 1)
    return np.asarray(out).astype(dtype, copy=False)


@kernel("Det", since=11)
def det(X):
    if X.ndim < 2 or X.shape[-1] != X.shape[-2]:
        raise ValueError(f"Det needs [*, M, M] input, got shape {X.shape}")
    work = np.float64 if X.dtype in _LOW_PRECISION else X.dtype
    return np.asarray(np.linalg.det(X.astype(work, copy=False))).astype(X.dtype, copy=False)


# -- TopK -------------------------------------------------------------------------


def _order_desc(values: np.ndarray) -> np.ndarray:
    """Positions sorting the last axis in descending order, equal values keeping their order."""
    n = values.shape[-1]
    return n - 1 - np.argsort(values[..., ::-1], axis=-1, kind="stable")[..., ::-1]


def _order(values: np.ndarray, largest: int) -> np.ndarray:
    return _order_desc(values) if largest else np.argsort(values, axis=-1, kind="stable")


def _select_k(x: np.ndarray, k: int, largest: int) -> np.ndarray | None:
    """Indices (ascending) of the k elements along the last axis, ties resolved to lower indices.

    Uses a partition (O(n)); returns None when NaNs make the threshold unusable.
    """
    n = x.shape[-1]
    kth = n - k if largest else k - 1
    threshold = np.partition(x, kth, axis=-1)[..., kth : kth + 1]
    strict = x > threshold if largest else x < threshold
    ties = x == threshold
    needed = k - strict.sum(axis=-1, keepdims=True)
    chosen = strict | (ties & (np.cumsum(ties, axis=-1) <= needed))
    if np.count_nonzero(chosen) != chosen.size // n * k:
        return None
    return np.nonzero(chosen)[-1].reshape(x.shape[:-1] + (k,))


def top_k(x: np.ndarray, k: int, axis: int, largest: int, sorted_: int) -> tuple[np.ndarray, np.ndarray]:
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"k={k} is out of range for axis of size {n}")
    moved = np.moveaxis(x, axis, -1)
    indices = _select_k(moved, k, largest) if 0 < k < n else None
    if indices is None:
        indices = _order(moved, largest)[..., :k]
    elif sorted_:
        indices = np.take_along_axis(indices, _order(np.take_along_axis(moved, indices, -1), largest), -1)
    values = np.take_along_axis(moved, indices, -1)
    return np.moveaxis(values, -1, axis), np.moveaxis(indices.astype(np.int64, copy=False), -1, axis)


def _k_value(K) -> int:
    k = np.asarray(K).reshape(-1)
    if k.size != 1:
        raise ValueError(f"K must hold a single value, got shape {np.shape(K)}")
    return int(k[0])


@kernel("TopK", since=1)
def top_k_1(X, *, axis=-1, k=None):
    if k is None:
        raise ValueError("TopK-1 needs the k attribute")
    return top_k(X, k, axis, 1, 1)


@kernel("TopK", since=(10, 11))
def top_k_11(X, K, *, axis=-1, largest=1, sorted=1):  # noqa: A002 - the spec's attribute name
    return top_k(X, _k_value(K), axis, largest, sorted)
