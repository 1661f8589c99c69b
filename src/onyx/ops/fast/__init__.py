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


def compiled_types(node: Any, index: int = 0) -> tuple[str, ...] | None:
    """The float types to compile for input ``index``: its declared one, both where the model
    does not say, None where it declares another type (the node stays NumPy)."""
    from onnx import TensorProto

    types = getattr(node, "input_types", ())
    tp = types[index] if index < len(types) else None
    elem = tp.tensor_type.elem_type if tp is not None and tp.HasField("tensor_type") else 0
    if elem == 0:
        return ("float32", "float64")
    return {TensorProto.FLOAT: ("float32",), TensorProto.DOUBLE: ("float64",)}.get(elem)


def compile_for(function: Any, types: tuple[str, ...]) -> tuple[Any, frozenset[np.dtype]] | None:
    """``function`` (an onyx.compiled.jit function) compiled for ``types`` only, and the dtypes
    it then runs; None where it cannot be compiled."""
    dispatcher = function.compiled(types[0] if len(types) == 1 else None)
    return None if dispatcher is None else (dispatcher, frozenset(np.dtype(t) for t in types))

