"""The ONNX Conv operator written from its specification, directly and slowly: the oracle that
tests compare every convolution algorithm of onyx.ops.conv_algorithms to.

    Y[n, m, o...] = B[m] + sum over c in m's group and k... of
                    X_padded[n, c, o * strides + k * dilations] * W[m, c - group start, k...]

computed in float64, one output position at a time.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def reference_pads(auto_pad: str, pads, in_shape, kernel, strides, dilations) -> list[tuple[int, int]]:
    """(begin, end) pads per spatial axis, as the spec's auto_pad text defines them."""
    rank = len(in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        result = []
        for size, k, s, d in zip(in_shape, kernel, strides, dilations):
            out = math.ceil(size / s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, large = total // 2, total - total // 2
            result.append((small, large) if auto_pad == "SAME_UPPER" else (large, small))
        return result
    if auto_pad == "VALID" or not pads:
        return [(0, 0)] * rank
    return [(pads[i], pads[i + rank]) for i in range(rank)]


def reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, auto_pad: str = "NOTSET",
                   dilations=None, group: int = 1, pads=None, strides=None) -> np.ndarray:
    """Conv(X, W, B) in float64 by the definition."""
    rank = x.ndim - 2
    kernel = w.shape[2:]
    strides = list(strides or [1] * rank)
    dilations = list(dilations or [1] * rank)
    padding = reference_pads(auto_pad, pads, x.shape[2:], kernel, strides, dilations)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + padding)
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    mg = m // group
    out = [(size - ((k - 1) * d + 1)) // s + 1 for size, k, s, d in zip(xp.shape[2:], kernel, strides, dilations)]
    y = np.zeros((n, m, *out))
    wf = w.astype(np.float64)
    for position in itertools.product(*(range(o) for o in out)):
        for taps in itertools.product(*(range(k) for k in kernel)):
            at = tuple(o * s + t * d for o, s, t, d in zip(position, strides, taps, dilations))
            for g in range(group):
                values = xp[(slice(None), slice(g * cg, (g + 1) * cg), *at)]  # (N, C/group)
                y[(slice(None), slice(g * mg, (g + 1) * mg), *position)] += values @ wf[(slice(g * mg, (g + 1) * mg),
                                                                                        slice(None), *taps)].T
    if b is not None:
        y += np.asarray(b, dtype=np.float64).reshape((m,) + (1,) * rank)
    return y
