"""Compiled tree traversal (the ``[fast]`` extra): each sample walks every tree to its leaf in
one Numba loop, the samples shared among the run's intra-op threads (onyx.compiled.parallel_for).

The forest is the slot layout of onyx.ops.ml.trees.Forest: a branch's children sit side by
side (false child first), so one level is ``slot = base[slot] + goes_true``. Modes are
trees.py's codes (NEQ already turned into EQ with its children exchanged).
"""

from __future__ import annotations

import numpy as np

from onyx.compiled import inline, jit, parallel_for
from onyx.ops.ml.trees import EQ, GT, GTE, LEQ, LT

_SAMPLES_PER_SHARE = 64
_BLOCK = 8  # samples walked side by side


def _signature(real: str) -> str:
    # start, stop, X, feature, threshold, base, is_branch, mode, missing, member_row, members, out
    return (f"void(int64, int64, {real}[:, ::1], intp[::1], {real}[::1], intp[::1], boolean[::1], uint8[::1], "
            "boolean[::1], int64[::1], float64[:, ::1], intp[:, ::1])")


@jit(_signature("float32"), _signature("float64"))
def _walk(start, stop, X, feature, threshold, base, is_branch, mode, missing, member_row, members, out):
    """out[tree, i] = the leaf slot sample i reaches in each tree, for i in [start, stop).

    Tree by tree (its nodes stay in cache), a block of samples at a time, level by level until
    every sample of the block is at a leaf (a leaf's base is itself and its condition false, NaN
    threshold): the samples' independent loads overlap (blocks of 8 measured 1.2-1.4x faster
    than one sample at a time and than the NumPy walk; 16 and more walk too many levels).
    """
    slots = np.empty(_BLOCK, dtype=np.intp)
    for tree in range(out.shape[0]):
        for first in range(start, stop, _BLOCK):
            size = min(_BLOCK, stop - first)
            for k in range(size):
                slots[k] = tree
            walking = True
            while walking:
                walking = False
                for k in range(size):
                    slot = slots[k]
                    x = X[first + k, feature[slot]]
                    m = mode[slot]
                    t = threshold[slot]
                    if m == LEQ:
                        goes = x <= t
                    elif m == LT:
                        goes = x < t
                    elif m == GTE:
                        goes = x >= t
                    elif m == GT:
                        goes = x > t
                    elif m == EQ:
                        goes = x == t
                    else:  # BRANCH_MEMBER: x is one of the row's values (NaN padded)
                        goes = False
                        row = members[member_row[slot]]
                        for j in range(row.shape[0]):
                            goes |= x == row[j]
                    goes |= missing[slot] & (x != x)
                    slot = base[slot] + goes
                    slots[k] = slot
                    walking |= is_branch[slot]
            for k in range(size):
                out[tree, first + k] = slots[k]


def _lanes_signature(real: str) -> str:
    # start, stop, X, feature_base [slots, 2], threshold (a <= test), out
    return f"void(int64, int64, {real}[:, ::1], int32[:, ::1], {real}[::1], intp[:, ::1])"


@inline
def _step(X, i, feature_base, threshold, slot):
    """The slot after ``slot`` for sample i (itself at a leaf: NaN threshold, base = itself)."""
    return feature_base[slot, 1] + np.int32(X[i, feature_base[slot, 0]] <= threshold[slot])


@jit(_lanes_signature("float32"), _lanes_signature("float64"))
def _walk_lanes(start, stop, X, feature_base, threshold, out):
    """out[tree, i] for i in [start, stop), for forests whose every branch is ``x <= t`` and
    samples without NaN (see Forest.lane_walk): eight samples walk each tree at once, their
    slots held in registers, until all eight are at leaves (2.4-3.7x the block walk of _walk
    on the bench forests, which keeps its slots in memory and tests every mode)."""
    for tree in range(out.shape[0]):
        first = start
        while first + 8 <= stop:
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.int32(tree)
            while True:
                n0 = _step(X, first, feature_base, threshold, a0)
                n1 = _step(X, first + 1, feature_base, threshold, a1)
                n2 = _step(X, first + 2, feature_base, threshold, a2)
                n3 = _step(X, first + 3, feature_base, threshold, a3)
                n4 = _step(X, first + 4, feature_base, threshold, a4)
                n5 = _step(X, first + 5, feature_base, threshold, a5)
                n6 = _step(X, first + 6, feature_base, threshold, a6)
                n7 = _step(X, first + 7, feature_base, threshold, a7)
                if (n0 == a0) & (n1 == a1) & (n2 == a2) & (n3 == a3) & (n4 == a4) & (n5 == a5) & (n6 == a6) & (
                        n7 == a7):
                    break
                a0, a1, a2, a3, a4, a5, a6, a7 = n0, n1, n2, n3, n4, n5, n6, n7
            out[tree, first], out[tree, first + 1], out[tree, first + 2], out[tree, first + 3] = a0, a1, a2, a3
            out[tree, first + 4], out[tree, first + 5], out[tree, first + 6], out[tree, first + 7] = a4, a5, a6, a7
            first += 8
        for i in range(first, stop):
            slot = np.int32(tree)
            following = _step(X, i, feature_base, threshold, slot)
            while following != slot:
                slot = following
                following = _step(X, i, feature_base, threshold, slot)
            out[tree, i] = slot


@jit("void(int64, int64, intp[:, ::1], int64[::1], float64[:, ::1], boolean[:, ::1], float64[:, ::1], "
     "boolean[:, ::1])")
def _sum_votes(start, stop, slots, leaf_row, values, present, scores, voted):
    """scores[i] = the sum of the leaf values sample i reaches, voted[i] = whether any leaf voted
    for each target, for i in [start, stop)."""
    for i in range(start, stop):
        for tree in range(slots.shape[0]):
            row = leaf_row[slots[tree, i]]
            for k in range(values.shape[1]):
                scores[i, k] += values[row, k]
                voted[i, k] |= present[row, k]


def compile_walk() -> bool:
    """Compile the walks and the sums (at session creation); False where Numba cannot."""
    return all(f.compiled() is not None for f in (_walk, _walk_lanes, _sum_votes))


def sum_votes(forest, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the summed leaf values [N, targets] (float64) of the leaf ``slots`` [trees, N]
    and whether any tree voted for each target."""
    n = slots.shape[1]
    scores = np.zeros((n, forest.n_targets))
    voted = np.zeros((n, forest.n_targets), dtype=bool)
    parallel_for(_sum_votes, n, slots, forest.slot_leaf_row, forest.leaf_values, forest.leaf_present, scores, voted,
                 grain=_SAMPLES_PER_SHARE)
    return scores, voted


def leaves(forest, X: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """[trees, N] leaf slots of ``forest`` for the rows of ``X`` (of the dtype of ``threshold``),
    the rows shared among the run's threads."""
    if not (X.flags.c_contiguous and X.flags.writeable):  # the compiled loop's type (it only reads X)
        X = np.array(X, order="C")
    n_trees, n = len(forest.roots), X.shape[0]
    out = np.empty((n_trees, n), dtype=np.intp)
    lanes = forest.lane_walk(threshold)
    if lanes is not None and not np.isnan(X).any():
        parallel_for(_walk_lanes, n, X, *lanes, out, grain=_SAMPLES_PER_SHARE)
        return out
    parallel_for(_walk, n, X, forest.slot_feature, threshold, forest.slot_base,
                 forest.slot_is_branch, forest.slot_mode, forest.slot_missing, forest.slot_member_row, forest.members, out,
                 grain=_SAMPLES_PER_SHARE)
    return out
