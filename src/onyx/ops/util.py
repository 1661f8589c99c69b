"""Small helpers shared by kernels."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def normalize_axis(axis: int, rank: int) -> int:
    """A possibly negative axis as an index in [0, rank); raises ValueError when out of range."""
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Iterable[int] | np.ndarray, rank: int) -> tuple[int, ...]:
    """Axes (attribute list or int64 tensor) as sorted-as-given non-negative ints."""
    return tuple(normalize_axis(int(a), rank) for a in np.asarray(axes, dtype=np.int64).reshape(-1))
