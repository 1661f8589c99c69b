"""Compiled variants of NumPy kernels (the ``[fast]`` extra; onyx.compiled).

Each module holds the compiled loops of one operator family and the ``choose`` functions
that ``onyx.compiled.compiled_variant`` attaches to the NumPy kernels: at session creation
they return a node's compiled callable, or None where the node's attributes are not covered.
At run time a compiled callable falls back to the NumPy kernel for inputs it does not cover
(dtypes, ranks, layouts), so results never depend on which kernel was chosen beyond rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def compiled_dtype(x: np.ndarray) -> bool:
    """Whether ``x``'s dtype is one the compiled loops are built for (float32, float64)."""
    return x.dtype in FLOATS


def declared_shape(node: Any, index: int) -> tuple[int | None, ...] | None:
    """Input ``index``'s declared shape (None per unknown dimension), or None when the model does not say."""
    types = getattr(node, "input_types", ())
    tp = types[index] if index < len(types) else None
    if tp is None or not tp.HasField("tensor_type") or not tp.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tp.tensor_type.shape.dim)
