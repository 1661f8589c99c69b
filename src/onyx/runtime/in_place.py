"""Elementwise steps that write their result into an input whose last reader they are.

The plan knows each value's last reader. When that reader is a float Add, Sub, Mul or Div
whose result has the input's shape and type, the input's buffer can take the result instead
of a fresh array. An input is given up only if nothing else can see it: a step of the same
plan made it (never a feed, an initializer or an outer-scope value), it owns its memory, and
the run's own references are the only ones left, so no other value is a view of it and no
observer (profiler, run_with_intermediates) kept it.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from onyx.model.graph import Node
from onyx.ops.math import IEEE_FLOATS

UFUNCS = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}


def _references(args: Sequence[Any], position: int) -> int:
    """sys.getrefcount of ``args[position]``, taken the same way for calibration and checks."""
    return sys.getrefcount(args[position])


def _run_references() -> int:
    """The count _references gives for a value held only by the run: the plan's value list and
    one entry of a step's argument list. Measured rather than assumed, since interpreters
    differ in which temporary references they count."""
    values = [np.empty(1)]
    args = [values[0], None]
    return _references(args, 0)


_RUN_REFERENCES = _run_references()


def donor_positions(node: Node, input_slots: Sequence[int], freed: Collection[int],
                    produced: Collection[int]) -> tuple[int, ...]:
    """The inputs of ``node`` that may take its result: made by a step, last read here."""
    if node.domain or node.op_type not in UFUNCS or node.attrs or len(input_slots) != 2:
        return ()
    return tuple(i for i, slot in enumerate(input_slots) if slot in freed and slot in produced)


def donor(args: Sequence[Any], positions: Sequence[int]) -> np.ndarray | None:
    """The first of ``args[positions]`` whose buffer may hold the step's result, if any."""
    if type(args[0]) is not np.ndarray or type(args[1]) is not np.ndarray:
        return None
    if args[0].dtype != args[1].dtype or args[0].dtype not in IEEE_FLOATS:
        return None
    shape = args[0].shape
    if args[1].shape != shape:
        shape = np.broadcast_shapes(shape, args[1].shape)
    for position in positions:
        repeats = (args[0] is args[position]) + (args[1] is args[position]) - 1
        if _references(args, position) > _RUN_REFERENCES + repeats:
            continue
        candidate = args[position]
        if candidate.shape == shape and candidate.base is None and candidate.flags.writeable:
            return candidate
    return None
