"""Compiled softmax passes: exp(scores - row maximum) in place and the row sums, in one pass
with onyx.ops.fast.vmath's exp (NumPy: a subtraction, an exp at about 2 ns an element and a
sum, three passes). FusedAttention normalizes after its second product."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from onyx.compiled import jit
from onyx.ops.fast import compiled_types
from onyx.ops.fast.vmath import exp32


# reassoc: the row sum in vector lanes; vmath's exp is written so that reassociation keeps it exact
@jit("void(float32[:, ::1], float32[::1], float32[::1])", error_model="numpy", fastmath={"contract", "reassoc"})
def _exp_rows(scores, top, sums):
    """scores[r] = exp(scores[r] - top[r]) and sums[r] = their sum, for every row r."""
    for r in range(scores.shape[0]):
        shift = top[r]
        total = np.float32(0.0)
        for i in range(scores.shape[1]):
            e = exp32(scores[r, i] - shift)
            scores[r, i] = e
            total += e
        sums[r] = total


def exp_rows(node: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray | None] | None:
    """``run(scores, top)``: exp(scores - top) over the last axis in place, returning the sums
    (shaped like ``top``), or None for scores that are not float32 and C-contiguous (the caller
    then takes NumPy's passes). None where the node is not float32 or Numba cannot compile."""
    if "float32" not in (compiled_types(node) or ()):
        return None
    loop = _exp_rows.compiled()
    if loop is None:
        return None

    def run(scores: np.ndarray, top: np.ndarray) -> np.ndarray | None:
        if scores.dtype != np.float32 or not scores.flags.c_contiguous or scores.ndim == 0 or scores.size == 0:
            return None
        width = scores.shape[-1]
        sums = np.empty(top.shape, np.float32)
        loop(scores.reshape(-1, width), np.ascontiguousarray(top, np.float32).reshape(-1), sums.reshape(-1))
        return sums

    return run
