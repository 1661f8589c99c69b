"""Elementwise arithmetic."""

import numpy as np

from onyx.ops.registry import kernel


@kernel("Abs", since=1)
def abs_(x):
    return np.abs(x)


@kernel("Add", since=1)
def add(a, b):
    return a + b
