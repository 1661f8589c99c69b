"""Tree ensembles: TreeEnsembleRegressor, TreeEnsembleClassifier (ml opsets 1, 3), TreeEnsemble (ml opset 5).

Every encoding is compiled once (per node) into a :class:`Forest`: flat arrays over all
nodes of all trees, leaves included. Evaluation advances every (sample, tree) pair one
level per iteration with array indexing until all pairs sit on a leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from onyx.ops.ml.common import cached, class_labels, logistic, transform_scores
from onyx.ops.registry import kernel

ML = "ai.onnx.ml"
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER, LEAF = range(8)
MODE_CODES = {"BRANCH_LEQ": LEQ, "BRANCH_LT": LT, "BRANCH_GTE": GTE, "BRANCH_GT": GT,
              "BRANCH_EQ": EQ, "BRANCH_NEQ": NEQ, "LEAF": LEAF}
_COMPARE = {LEQ: np.less_equal, LT: np.less, GTE: np.greater_equal, GT: np.greater,
            EQ: np.equal, NEQ: np.not_equal}
AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
_CHUNK_ELEMENTS = 1 << 22


@dataclass
class Forest:
    """All trees flattened; node ids index every per-node array, leaves have mode LEAF."""

    feature: np.ndarray  # int64 [nodes]
    threshold: np.ndarray  # float64 [nodes]
    mode: np.ndarray  # uint8 [nodes]
    true_next: np.ndarray  # int64 [nodes]; a leaf points to itself
    false_next: np.ndarray  # int64 [nodes]
    missing_true: np.ndarray  # bool [nodes]: NaN goes to the true branch
    member_row: np.ndarray  # int64 [nodes]: row of ``members`` for MEMBER nodes
    members: np.ndarray  # float64 [member nodes, widest set], NaN padded
    roots: np.ndarray  # int64 [trees]
    leaf_row: np.ndarray  # int64 [nodes]: row of ``leaf_values`` (the last row is all zero)
    leaf_values: np.ndarray  # float64 [leaf rows, targets]
    leaf_present: np.ndarray  # bool [leaf rows, targets]: the leaf votes for the target

    def __post_init__(self) -> None:
        self.is_leaf = self.mode == LEAF
        self.branch_modes = sorted(int(m) for m in np.unique(self.mode[~self.is_leaf]))
        self.n_features = int(self.feature[~self.is_leaf].max(initial=-1)) + 1
        # When every leaf votes for at most one target, sums are one bincount over the leaves.
        self.single_vote = bool((self.leaf_present.sum(axis=1) <= 1).all())
        self.votes = self.leaf_present.any(axis=1)
        self.vote_target = self.leaf_present.argmax(axis=1)
        self.vote_weight = self.leaf_values[np.arange(len(self.leaf_values)), self.vote_target]

    @property
    def n_targets(self) -> int:
        return self.leaf_values.shape[1]

    def _goes_true(self, x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """The branch condition of ``nodes`` for feature values ``x`` (missing_true applied by the caller)."""
        if len(self.branch_modes) == 1 and self.branch_modes[0] != MEMBER:
            return _COMPARE[self.branch_modes[0]](x, self.threshold.take(nodes))
        modes = self.mode[nodes]
        cond = np.empty(len(nodes), dtype=bool)
        for code in self.branch_modes:
            sel = modes == code
            if code == MEMBER:
                cond[sel] = (x[sel, None] == self.members[self.member_row[nodes[sel]]]).any(axis=1)
            else:
                cond[sel] = _COMPARE[code](x[sel], self.threshold[nodes[sel]])
        return cond

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """[N, trees] node id of the leaf each sample reaches in each tree."""
        n_samples, n_features = X.shape
        if n_features < self.n_features or self.feature.min(initial=0) < 0:
            raise ValueError(f"the trees read feature {self.n_features - 1} but X has {n_features} features")
        n_trees = len(self.roots)
        flat = np.ascontiguousarray(X).reshape(-1)
        node = np.tile(self.roots, n_samples)
        active = np.flatnonzero(~self.is_leaf[node])  # (sample, tree) pairs not on a leaf yet
        current = node[active]
        offsets = (active // n_trees) * n_features  # where each pair's sample starts in ``flat``
        check_nan = X.dtype.kind == "f" and bool(np.isnan(flat).any())
        for _ in range(len(self.mode) + 1):
            if active.size == 0:
                return node.reshape(n_samples, n_trees)
            x = flat.take(offsets + self.feature.take(current))
            cond = self._goes_true(x, current)
            if check_nan:  # a NaN fails every comparison but NEQ; missing_true sends it to the true branch
                cond |= np.isnan(x) & self.missing_true.take(current)
            current = np.where(cond, self.true_next.take(current), self.false_next.take(current))
            going = ~self.is_leaf.take(current)
            if not going.all():
                node[active] = current
                active, current, offsets = active[going], current[going], offsets[going]
        raise ValueError("the trees contain a cycle")

    def aggregate(self, X: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-target scores [N, targets] (float64) and whether any tree voted for them."""
        if how not in AGGREGATES:
            raise ValueError(f"aggregate_function '{how}' is not one of {', '.join(AGGREGATES)}")
        rows = self.leaf_row[self.leaves(X)]
        n, n_trees = rows.shape
        if self.single_vote and how in ("SUM", "AVERAGE"):
            return self._sum_single_votes(rows, how)
        scores = np.zeros((n, self.n_targets))
        voted = np.zeros((n, self.n_targets), dtype=bool)
        step = max(1, _CHUNK_ELEMENTS // max(1, n_trees * self.n_targets))
        for start in range(0, n, step):
            chunk = rows[start:start + step]
            values, present = self.leaf_values[chunk], self.leaf_present[chunk]
            voted[start:start + step] = present.any(axis=1)
            if how in ("SUM", "AVERAGE"):
                scores[start:start + step] = values.sum(axis=1)
            elif how == "MIN":
                scores[start:start + step] = np.where(present, values, np.inf).min(axis=1)
            else:
                scores[start:start + step] = np.where(present, values, -np.inf).max(axis=1)
        if how == "AVERAGE":
            scores /= max(n_trees, 1)
        return np.where(voted, scores, 0.0), voted

    def _sum_single_votes(self, rows: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
        n, n_trees = rows.shape
        k = self.n_targets
        bins = (np.arange(n)[:, None] * k + self.vote_target[rows]).reshape(-1)
        present = self.votes[rows].reshape(-1)
        scores = np.bincount(bins, weights=self.vote_weight[rows].reshape(-1), minlength=n * k).reshape(n, k)
        voted = np.bincount(bins[present], minlength=n * k).reshape(n, k) > 0
        if how == "AVERAGE":
            scores /= max(n_trees, 1)
        return scores, voted


def _leaf_table(rows: np.ndarray, targets: np.ndarray, weights: np.ndarray, n_rows: int,
                n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense [n_rows + 1, n_targets] weights (summed when repeated) and presence; the extra row is empty."""
    if targets.size and (targets.min() < 0 or targets.max() >= n_targets):
        raise ValueError(f"a leaf target/class id is outside [0, {n_targets})")
    values = np.zeros((n_rows + 1, n_targets))
    present = np.zeros((n_rows + 1, n_targets), dtype=bool)
    np.add.at(values, (rows, targets), weights)
    present[rows, targets] = True
    return values, present


def _members(modes: np.ndarray, membership_values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Padded set table for BRANCH_MEMBER nodes (sets are NaN-delimited, in node order)."""
    member_nodes = np.flatnonzero(modes == MEMBER)
    member_row = np.full(len(modes), -1, dtype=np.int64)
    member_row[member_nodes] = np.arange(len(member_nodes))
    if len(member_nodes) == 0:
        return member_row, np.zeros((0, 1))
    if membership_values is None:
        raise ValueError("BRANCH_MEMBER nodes need membership_values")
    flat = np.asarray(membership_values, dtype=np.float64).reshape(-1)
    sets = np.split(flat, np.flatnonzero(np.isnan(flat)))
    sets = [sets[0]] + [s[1:] for s in sets[1:]]
    if len(sets) < len(member_nodes):
        raise ValueError(f"membership_values holds {len(sets)} sets for {len(member_nodes)} BRANCH_MEMBER nodes")
    table = np.full((len(member_nodes), max(1, max(len(s) for s in sets))), np.nan)
    for i, s in enumerate(sets[: len(member_nodes)]):
        table[i, : len(s)] = s
    return member_row, table


def forest_v5(nodes_featureids, nodes_splits, nodes_modes, nodes_truenodeids, nodes_trueleafs,
              nodes_falsenodeids, nodes_falseleafs, nodes_missing_value_tracks_true, membership_values,
              tree_roots, leaf_targetids, leaf_weights, n_targets) -> Forest:
    """A Forest from TreeEnsemble's encoding: interior nodes first, then the leaves."""
    n_nodes, n_leaves = len(nodes_featureids), len(leaf_targetids)

    def child(ids, is_leaf) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        return np.where(np.asarray(is_leaf, dtype=bool), ids + n_nodes, ids)

    leaf_ids = np.arange(n_nodes, n_nodes + n_leaves)
    modes = np.concatenate([np.asarray(nodes_modes, dtype=np.uint8).reshape(-1), np.full(n_leaves, LEAF, np.uint8)])
    missing = np.zeros(n_nodes, dtype=bool)
    if nodes_missing_value_tracks_true is not None and len(nodes_missing_value_tracks_true):
        missing = np.asarray(nodes_missing_value_tracks_true, dtype=bool)
    member_row, members = _members(modes, membership_values)
    values, present = _leaf_table(np.arange(n_leaves), np.asarray(leaf_targetids, dtype=np.int64),
                                  np.asarray(leaf_weights, dtype=np.float64).reshape(-1), n_leaves, n_targets)
    return Forest(
        feature=np.concatenate([np.asarray(nodes_featureids, dtype=np.int64), np.zeros(n_leaves, np.int64)]),
        threshold=np.concatenate([np.asarray(nodes_splits, dtype=np.float64).reshape(-1), np.zeros(n_leaves)]),
        mode=modes,
        true_next=np.concatenate([child(nodes_truenodeids, nodes_trueleafs), leaf_ids]),
        false_next=np.concatenate([child(nodes_falsenodeids, nodes_falseleafs), leaf_ids]),
        missing_true=np.concatenate([missing, np.zeros(n_leaves, dtype=bool)]),
        member_row=member_row,
        members=members,
        roots=np.asarray(tree_roots, dtype=np.int64),
        leaf_row=np.concatenate([np.full(n_nodes, n_leaves, np.int64), np.arange(n_leaves)]),
        leaf_values=values,
        leaf_present=present,
    )


def forest_from_ids(treeids, nodeids, featureids, thresholds, modes, truenodeids, falsenodeids,
                    missing_tracks_true, vote_treeids, vote_nodeids, vote_targets, vote_weights,
                    n_targets: int) -> Forest:
    """A Forest from the (tree id, node id) encoding of TreeEnsembleRegressor/Classifier."""
    treeids = np.asarray(treeids, dtype=np.int64)
    nodeids = np.asarray(nodeids, dtype=np.int64)
    n = len(nodeids)
    span = int(nodeids.max()) + 1 if n else 1
    keys = treeids * span + nodeids
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def position(trees, ids) -> np.ndarray:
        wanted = np.asarray(trees, dtype=np.int64) * span + np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_keys, wanted), 0, max(n - 1, 0))
        if n == 0 or not np.array_equal(sorted_keys[pos], wanted):
            raise ValueError("a child or leaf refers to a (tree id, node id) that no node has")
        return order[pos]

    names, codes = np.unique(np.asarray(modes, dtype=object).astype(str), return_inverse=True)
    unknown = [m for m in names if m not in MODE_CODES]
    if unknown:
        raise ValueError(f"unknown node mode(s) {unknown}")
    mode = np.array([MODE_CODES[m] for m in names], dtype=np.uint8)[codes.reshape(-1)]
    is_leaf = mode == LEAF
    branch = np.flatnonzero(~is_leaf)
    true_next = np.arange(n)
    false_next = np.arange(n)
    true_next[branch] = position(treeids[branch], np.asarray(truenodeids, dtype=np.int64)[branch])
    false_next[branch] = position(treeids[branch], np.asarray(falsenodeids, dtype=np.int64)[branch])
    is_child = np.zeros(n, dtype=bool)
    is_child[true_next[branch]] = True
    is_child[false_next[branch]] = True
    roots = np.flatnonzero(~is_child)
    if len(roots) != len(np.unique(treeids)):
        raise ValueError("every tree must have exactly one root node")
    missing = np.zeros(n, dtype=bool)
    if missing_tracks_true:
        missing = np.asarray(missing_tracks_true, dtype=bool)
    voters = position(vote_treeids, vote_nodeids)
    leaf_nodes, rows = np.unique(voters, return_inverse=True)
    leaf_row = np.full(n, len(leaf_nodes), dtype=np.int64)
    leaf_row[leaf_nodes] = np.arange(len(leaf_nodes))
    values, present = _leaf_table(rows.reshape(-1), np.asarray(vote_targets, dtype=np.int64),
                                  np.asarray(vote_weights, dtype=np.float64).reshape(-1), len(leaf_nodes), n_targets)
    return Forest(
        feature=np.asarray(featureids, dtype=np.int64),
        threshold=np.asarray(thresholds, dtype=np.float64).reshape(-1),
        mode=mode,
        true_next=true_next,
        false_next=false_next,
        missing_true=missing,
        member_row=np.full(n, -1, dtype=np.int64),
        members=np.zeros((0, 1)),
        roots=roots,
        leaf_row=leaf_row,
        leaf_values=values,
        leaf_present=present,
    )


def _pick(tensor: np.ndarray | None, values: Sequence[float] | None) -> np.ndarray | None:
    """An attribute given either as a (double) *_as_tensor or as a float list."""
    if tensor is not None:
        return np.asarray(tensor, dtype=np.float64).reshape(-1)
    if values is not None:
        return np.asarray(values, dtype=np.float64)
    return None


def _attributes(scope: dict) -> dict:
    """A kernel's attributes (its locals at entry, less the input X)."""
    return {k: v for k, v in scope.items() if k != "X"}


def _matrix(X) -> np.ndarray:
    X = np.asarray(X)
    return X.reshape(1, -1) if X.ndim == 1 else X


def _compile(a: dict, prefix: str, n_targets: int) -> tuple[Forest, np.ndarray | None, bool]:
    """The Forest of a regressor/classifier node (prefix 'target' or 'class'), its base values, and
    whether all vote weights are >= 0."""
    thresholds = _pick(a.get("nodes_values_as_tensor"), a["nodes_values"])
    weights = _pick(a.get(f"{prefix}_weights_as_tensor"), a[f"{prefix}_weights"])
    base = _pick(a.get("base_values_as_tensor"), a["base_values"])
    if thresholds is None or weights is None:
        raise ValueError(f"nodes_values and {prefix}_weights are required")
    forest = forest_from_ids(
        a["nodes_treeids"], a["nodes_nodeids"], a["nodes_featureids"], thresholds, a["nodes_modes"],
        a["nodes_truenodeids"], a["nodes_falsenodeids"], a["nodes_missing_value_tracks_true"],
        a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"], a[f"{prefix}_ids"], weights, n_targets)
    return forest, (base if base is not None and base.size else None), bool((weights >= 0).all())


# -- TreeEnsembleRegressor ------------------------------------------------------------


def _regress(X, a: dict) -> np.ndarray:
    if a["n_targets"] is None:
        raise ValueError("TreeEnsembleRegressor needs n_targets")
    forest, base, _ = cached(tuple(a.values()), lambda: _compile(a, "target", a["n_targets"]))
    scores, _ = forest.aggregate(_matrix(X), a["aggregate_function"])
    if base is not None:
        scores = scores + base
    return transform_scores(scores, a["post_transform"]).astype(np.float32)


@kernel("TreeEnsembleRegressor", since=1, domain=ML)
def tree_ensemble_regressor_1(X, *, aggregate_function="SUM", base_values=None, n_targets=None,
                              nodes_falsenodeids=None, nodes_featureids=None, nodes_hitrates=None,
                              nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_nodeids=None,
                              nodes_treeids=None, nodes_truenodeids=None, nodes_values=None,
                              post_transform="NONE", target_ids=None, target_nodeids=None,
                              target_treeids=None, target_weights=None):
    return _regress(X, _attributes(locals()))


@kernel("TreeEnsembleRegressor", since=3, domain=ML)
def tree_ensemble_regressor_3(X, *, aggregate_function="SUM", base_values=None, base_values_as_tensor=None,
                              n_targets=None, nodes_falsenodeids=None, nodes_featureids=None,
                              nodes_hitrates=None, nodes_hitrates_as_tensor=None,
                              nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_nodeids=None,
                              nodes_treeids=None, nodes_truenodeids=None, nodes_values=None,
                              nodes_values_as_tensor=None, post_transform="NONE", target_ids=None,
                              target_nodeids=None, target_treeids=None, target_weights=None,
                              target_weights_as_tensor=None):
    return _regress(X, _attributes(locals()))


# -- TreeEnsembleClassifier -----------------------------------------------------------


def _binary_scores(s: np.ndarray, transform: str, all_positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two-class output from the single score the trees give the second class, and the winner mask."""
    if transform == "LOGISTIC":
        return np.stack([logistic(-s), logistic(s)], axis=1), s > 0
    if transform == "NONE" and all_positive:
        return np.stack([1.0 - s, s], axis=1), s > 0.5
    return transform_scores(np.stack([-s, s], axis=1), transform), s > 0


def _classify(X, a: dict) -> tuple[np.ndarray, np.ndarray]:
    labels = class_labels(a["classlabels_int64s"], a["classlabels_strings"])
    forest, base, all_positive = cached(tuple(a.values()), lambda: _compile(a, "class", len(labels)))
    scores, voted = forest.aggregate(_matrix(X), "SUM")
    transform = a["post_transform"]
    if len(labels) == 2 and not forest.leaf_present[:, 1].any():
        # Binary trees that only score one class: that score is the second class's.
        s = scores[:, 0] + (base[0] if base is not None else 0.0)
        all_positive = all_positive and (base is None or base[0] >= 0)
        probabilities, second = _binary_scores(s, transform, all_positive)
        return labels[second.astype(np.int64)], probabilities.astype(np.float32)
    if base is not None:
        if base.size != len(labels):
            raise ValueError(f"base_values has {base.size} values for {len(labels)} classes")
        scores = scores + base
        voted = np.ones_like(voted)
    winner = np.argmax(np.where(voted, scores, -np.inf), axis=1)
    return labels[winner], transform_scores(scores, transform).astype(np.float32)


@kernel("TreeEnsembleClassifier", since=1, domain=ML)
def tree_ensemble_classifier_1(X, *, base_values=None, class_ids=None, class_nodeids=None, class_treeids=None,
                               class_weights=None, classlabels_int64s=None, classlabels_strings=None,
                               nodes_falsenodeids=None, nodes_featureids=None, nodes_hitrates=None,
                               nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_nodeids=None,
                               nodes_treeids=None, nodes_truenodeids=None, nodes_values=None,
                               post_transform="NONE"):
    return _classify(X, _attributes(locals()))


@kernel("TreeEnsembleClassifier", since=3, domain=ML)
def tree_ensemble_classifier_3(X, *, base_values=None, base_values_as_tensor=None, class_ids=None,
                               class_nodeids=None, class_treeids=None, class_weights=None,
                               class_weights_as_tensor=None, classlabels_int64s=None, classlabels_strings=None,
                               nodes_falsenodeids=None, nodes_featureids=None, nodes_hitrates=None,
                               nodes_hitrates_as_tensor=None, nodes_missing_value_tracks_true=None,
                               nodes_modes=None, nodes_nodeids=None, nodes_treeids=None, nodes_truenodeids=None,
                               nodes_values=None, nodes_values_as_tensor=None, post_transform="NONE"):
    return _classify(X, _attributes(locals()))


# -- TreeEnsemble (ml opset 5) --------------------------------------------------------


@kernel("TreeEnsemble", since=5, domain=ML)
def tree_ensemble(X, *, aggregate_function=1, leaf_targetids=None, leaf_weights=None, membership_values=None,
                  n_targets=None, nodes_falseleafs=None, nodes_falsenodeids=None, nodes_featureids=None,
                  nodes_hitrates=None, nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_splits=None,
                  nodes_trueleafs=None, nodes_truenodeids=None, post_transform=0, tree_roots=None):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"TreeEnsemble expects X of shape [N, F], got {list(X.shape)}")
    if n_targets is None:
        raise ValueError("TreeEnsemble needs n_targets")
    if not 0 <= aggregate_function < len(AGGREGATES):
        raise ValueError(f"aggregate_function {aggregate_function} is not one of 0..3")
    attrs = (leaf_targetids, leaf_weights, membership_values, nodes_falseleafs, nodes_falsenodeids,
             nodes_featureids, nodes_missing_value_tracks_true, nodes_modes, nodes_splits, nodes_trueleafs,
             nodes_truenodeids, tree_roots)
    forest = cached(attrs, lambda: forest_v5(
        nodes_featureids, nodes_splits, nodes_modes, nodes_truenodeids, nodes_trueleafs, nodes_falsenodeids,
        nodes_falseleafs, nodes_missing_value_tracks_true, membership_values, tree_roots, leaf_targetids,
        leaf_weights, n_targets))
    scores, _ = forest.aggregate(X, AGGREGATES[aggregate_function])
    return transform_scores(scores, post_transform).astype(X.dtype)
