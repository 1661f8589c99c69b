"""Exact integer matrix products (MatMulInteger, QLinearMatMul, MatMulIntegerToFloat...) through
float32 BLAS.

Why float32 is exact here: the operands are integers (8- or 16-bit codes minus their zero
points) held in float32. A product of two of them, |a| <= a_max and |b| <= b_max, is an integer
of magnitude <= a_max * b_max. Every partial sum a BLAS library forms for one output, in
whatever order it adds (blocking, vector lanes, fused multiply-adds), is the sum of a subset of
that row's and column's k products, so its magnitude is at most sum_k |a_ik| |b_kj| <=
(sum_k |a_ik|) * b_max. When that bound is <= 2**24, every intermediate value is an integer
float32 represents exactly (24-bit significand), no operation rounds, and the result is the
exact integer sum. Where the bound fails, the inner dimension is cut into chunks for which it
holds and their exact float32 products are added in float64 (exact for integers below 2**53).
uint8 activations times int8 weights (|a| <= 255, |b| <= 128) are exact in one product for
k <= 514 whatever the values, and for any k whose rows' sums of |a| stay under 131,072.
"""

from __future__ import annotations

import numpy as np

from onyx.ops.linalg import mat_mul

EXACT_FLOAT32 = float(1 << 24)


def row_param(param: np.ndarray, operand: np.ndarray) -> np.ndarray:
    """A per-row (1-D, one value per row of a matrix operand) parameter as a column to broadcast."""
    if param.ndim == 1 and param.size > 1:
        if operand.ndim < 2 or param.shape[0] != operand.shape[-2]:
            raise ValueError(f"per-row parameter of shape {param.shape} does not match operand {operand.shape}")
        return param.reshape(-1, 1)
    return param.reshape(()) if param.size == 1 else param


def centered(q: np.ndarray, zero_point: np.ndarray | None, per_row: bool, dtype=np.float64) -> np.ndarray:
    """q - zero_point as ``dtype`` (exact in float32 and float64 for 8/16-bit integers)."""
    values = q.astype(dtype)
    if zero_point is not None:
        zp = row_param(zero_point, q) if per_row else zero_point
        values -= zp.astype(dtype)
    return values


def _largest(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) if values.size else 0.0


def constant_operand(b: np.ndarray, zero_point: np.ndarray | None) -> tuple[np.ndarray, float]:
    """(b - zero_point as float32, its largest magnitude)."""
    values = centered(b, zero_point, per_row=False, dtype=np.float32)
    return values, _largest(values)


def exact_matmul(a: np.ndarray, b: np.ndarray, b_max: float) -> np.ndarray:
    """a @ b for float32 arrays of integers, exactly (see the module's docstring): float32 where
    one product is exact, else float64; ``b_max`` is max |b|."""
    k = a.shape[-1]
    magnitudes = np.abs(a)
    a_max = float(magnitudes.max()) if a.size else 0.0
    if a_max * b_max * k <= EXACT_FLOAT32 or float(magnitudes.sum(axis=-1).max()) * b_max <= EXACT_FLOAT32:
        return np.asarray(mat_mul(a, b))
    chunk = int(EXACT_FLOAT32 // (a_max * b_max))
    if chunk < 1 or b.ndim < 2:  # 16-bit codes: products beyond 2**24, float64 holds their sums exactly
        return np.asarray(mat_mul(a.astype(np.float64), b.astype(np.float64)))
    total = None
    for start in range(0, k, chunk):
        part = np.asarray(mat_mul(a[..., start:start + chunk], b[..., start:start + chunk, :])).astype(np.float64)
        if total is None:
            total = part
        else:
            total += part
    return total


def integer_matmul(a: np.ndarray, b: np.ndarray, a_zero_point, b_zero_point, a_per_row: bool) -> np.ndarray:
    """(a - a_zero_point) @ (b - b_zero_point), exact, as float32 or float64 (see exact_matmul);
    a's zero point per tensor or (``a_per_row``) per row, b's per tensor or per column."""
    left = centered(a, a_zero_point, per_row=a_per_row, dtype=np.float32)
    right, right_max = constant_operand(b, b_zero_point)
    return exact_matmul(left, right, right_max)


def as_int32(product: np.ndarray) -> np.ndarray:
    """An exact integer product as int32, wrapping on overflow as an int32 accumulator does."""
    if product.dtype == np.float32:  # magnitudes <= 2**24: no wrap possible
        return product.astype(np.int32)
    return product.astype(np.int64).astype(np.int32)
