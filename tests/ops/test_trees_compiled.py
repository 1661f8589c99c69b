"""The compiled tree walk ([fast]) against the NumPy walk: the same leaf for every sample and
tree, over every branch mode, NaNs that track the true branch, both float types and threads."""

import numpy as np
import pytest

from onyx.ops import threads
from onyx.ops.ml import trees

pytest.importorskip("numba")

MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def random_forest(rng: np.random.Generator, n_trees: int = 12, depth: int = 6, features: int = 5,
                  modes: list[str] = MODES) -> dict:
    """Full binary trees of random modes, features and thresholds (some exact sample values),
    leaves voting for one or two targets."""
    columns = {k: [] for k in ("treeids", "nodeids", "featureids", "thresholds", "modes", "truenodeids",
                               "falsenodeids", "missing_tracks_true")}
    votes = {k: [] for k in ("vote_treeids", "vote_nodeids", "vote_targets", "vote_weights")}
    for tree in range(n_trees):
        for node in range(2 ** (depth + 1) - 1):
            branch = node < 2 ** depth - 1
            values = [tree, node, int(rng.integers(features)),
                      float(rng.choice([0.0, 0.5, rng.normal(), -np.inf, np.inf], p=[0.3, 0.3, 0.3, 0.05, 0.05])),
                      str(rng.choice(modes)) if branch else "LEAF", 2 * node + 1 if branch else 0,
                      2 * node + 2 if branch else 0, int(rng.integers(2)) if branch else 0]
            for column, value in zip(columns.values(), values):
                column.append(value)
            for target in range(0 if branch else 1 + node % 2):  # one or two votes per leaf
                for column, value in zip(votes.values(), [tree, node, target, float(rng.normal())]):
                    column.append(value)
    return {**columns, **votes, "n_targets": 3}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_walk_reaches_the_leaves_of_the_numpy_walk(dtype):
    rng = np.random.default_rng(3)
    numpy_forest, compiled_forest = (trees.forest_from_ids(**random_forest(np.random.default_rng(5)))
                                     for _ in range(2))
    assert compiled_forest.use_compiled()
    X = rng.choice([0.0, 0.5, np.nan, -1.0, 2.0], size=(300, 5)).astype(dtype)
    X[::7] = rng.normal(size=(len(X[::7]), 5))
    with threads.limit(2):  # the samples in two shares
        np.testing.assert_array_equal(compiled_forest.leaves(X), numpy_forest.leaves(X))
        for how in ("SUM", "AVERAGE", "MAX"):
            for got, want in zip(compiled_forest.aggregate(X, how, True), numpy_forest.aggregate(X, how, True)):
                np.testing.assert_allclose(got, want, rtol=1e-12)


def test_read_only_samples():
    forest = trees.forest_from_ids(**random_forest(np.random.default_rng(1)))
    X = np.random.default_rng(2).normal(size=(50, 5)).astype(np.float32)
    expected = forest.leaves(X)
    assert forest.use_compiled()
    X.flags.writeable = False
    np.testing.assert_array_equal(forest.leaves(X), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("samples", [300, 5])  # five: no block of eight, the single-sample walk only
def test_lane_walk_of_leq_and_lt_forests(dtype, samples):
    rng = np.random.default_rng(8)
    numpy_forest, compiled_forest = (
        trees.forest_from_ids(**random_forest(np.random.default_rng(6), modes=["BRANCH_LEQ", "BRANCH_LT"]))
        for _ in range(2))
    assert compiled_forest.use_compiled()
    threshold = compiled_forest.threshold32 if dtype == np.float32 else compiled_forest.slot_threshold
    assert compiled_forest.lane_walk(threshold) is not None
    # samples on the thresholds, where <= and < differ, and at the infinities
    X = rng.choice([0.0, 0.5, -1.0, 2.0, -np.inf, np.inf], size=(samples, 5)).astype(dtype)
    X[::7] = rng.normal(size=(len(X[::7]), 5))
    with threads.limit(2):
        np.testing.assert_array_equal(compiled_forest.leaves(X), numpy_forest.leaves(X))
        X[1, 2] = np.nan  # a NaN: the general walk, which follows missing-value directions
        np.testing.assert_array_equal(compiled_forest.leaves(X), numpy_forest.leaves(X))


def test_other_modes_take_the_general_walk():
    forest = trees.forest_from_ids(**random_forest(np.random.default_rng(1), modes=["BRANCH_LEQ", "BRANCH_GT"]))
    assert forest.use_compiled()
    assert forest.lane_walk(forest.threshold32) is None
