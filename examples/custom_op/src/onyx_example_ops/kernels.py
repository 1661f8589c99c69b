"""Two operators of the domain ``com.example``, registered with ``@onyx.custom_op``.

The signature is the operator's spec: inputs positional, attributes keyword-only with
their defaults; a kernel returns NumPy arrays (a tuple when the node has several outputs).
"""

import numpy as np

import onyx


@onyx.custom_op("com.example", "Swish", since=1)
def swish(x, *, beta=1.0):
    """y = x * sigmoid(beta * x)"""
    return (x / (1 + np.exp(-x.dtype.type(beta) * x))).astype(x.dtype)


@onyx.custom_op("com.example", "MinMax", since=1)
def min_max(x, *, axis=-1):
    """The minimum and the maximum of x along axis (two outputs)."""
    return np.min(x, axis=axis), np.max(x, axis=axis)
