"""Tree ensembles: TreeEnsembleRegressor, TreeEnsembleClassifier (ml opsets 1, 3), TreeEnsemble (ml opset 5).

Every encoding is compiled once (per node) into a :class:`Forest`. Its nodes are renumbered
into *slots* so that the two children of a branch sit side by side (false child first): one
level of traversal is then ``slot = base[slot] + condition(x[feature[slot]], threshold[slot])``
for every (sample, tree) pair at once. A leaf's base is itself and its condition is always
false (NaN threshold), so finished pairs stay put; the pairs still walking are compacted as
the deep branches of unbalanced trees thin out. Groups of trees walk on the run's threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from onyx.compiled import named
from onyx.ops.ml.common import class_labels, logistic, transform_scores
from onyx.ops.registry import NodeContext, kernel
from onyx.ops.threads import count as threads_count
from onyx.ops.threads import parallel_map

ML = "ai.onnx.ml"
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER, LEAF = range(8)
MODE_CODES = {"BRANCH_LEQ": LEQ, "BRANCH_LT": LT, "BRANCH_GTE": GTE, "BRANCH_GT": GT,
              "BRANCH_EQ": EQ, "BRANCH_NEQ": NEQ, "LEAF": LEAF}
_COMPARE = {LEQ: np.less_equal, LT: np.less, GTE: np.greater_equal, GT: np.greater, EQ: np.equal}
AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
_CHUNK_ELEMENTS = 1 << 22
_PAIRS_PER_GROUP = 1 << 16


@dataclass
class Forest:
    """All trees flattened (node ids index every per-node array; leaves have mode LEAF)."""

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
        self.compiled = False  # see use_compiled
        self._lanes: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}  # see lane_walk
        is_leaf = self.mode == LEAF
        self.n_features = int(self.feature[~is_leaf].max(initial=-1)) + 1
        if self.feature[~is_leaf].min(initial=0) < 0:
            raise ValueError("a node reads a negative feature id")
        self._build_slots(is_leaf)
        self.modes = [int(m) for m in np.unique(self.slot_mode)]
        self.has_missing = bool(self.slot_missing.any())
        self.threshold32 = self.slot_threshold.astype(np.float32)
        finite = ~np.isnan(self.slot_threshold)
        self.exact32 = bool(np.array_equal(self.threshold32[finite], self.slot_threshold[finite]))
        # When every leaf votes for at most one target, sums need one weight per slot.
        rows = self.slot_leaf_row
        single = (self.leaf_present.sum(axis=1) <= 1).all()
        self.single_vote = bool(single)
        self.slot_votes = self.leaf_present.any(axis=1)[rows]
        self.slot_target = self.leaf_present.argmax(axis=1)[rows]
        self.slot_weight = self.leaf_values[rows, self.slot_target]
        targets = np.unique(self.slot_target[self.slot_votes])
        self.only_target = int(targets[0]) if single and len(targets) == 1 else None

    def _build_slots(self, is_leaf: np.ndarray) -> None:
        """Renumber nodes into slots: roots first, then the (false, true) children of each branch."""
        branch = np.flatnonzero(~is_leaf)
        swap = self.mode[branch] == NEQ  # NEQ becomes EQ with its children exchanged (NaN still goes true)
        first = np.where(swap, self.true_next[branch], self.false_next[branch])
        second = np.where(swap, self.false_next[branch], self.true_next[branch])
        n_trees = len(self.roots)
        node = np.concatenate([self.roots, np.stack([first, second], axis=1).reshape(-1)]).astype(np.intp)
        rank = np.full(len(self.mode), -1, dtype=np.intp)
        rank[branch] = np.arange(len(branch))
        slot_rank = rank[node]
        is_branch = slot_rank >= 0
        self.slot_node = node
        self.slot_is_branch = is_branch
        self.slot_base = np.where(is_branch, n_trees + 2 * slot_rank, np.arange(len(node)))
        self.slot_feature = np.where(is_branch, self.feature[node], 0).astype(np.intp)
        self.slot_threshold = np.where(is_branch, self.threshold[node], np.nan)
        neutral = LEQ if len(branch) == 0 else int(self.mode[branch[0]])
        neutral = EQ if neutral in (NEQ, MEMBER) else neutral
        mode = self.mode[node]
        self.slot_mode = np.where(is_branch, np.where(mode == NEQ, EQ, mode), neutral).astype(np.uint8)
        self.slot_missing = is_branch & self.missing_true[node] & (mode != NEQ)  # NaN != t holds anyway
        self.slot_member_row = self.member_row[node]
        self.slot_leaf_row = self.leaf_row[node]
        self.min_depth, self.depth = _depths(self.slot_base, is_branch, n_trees)

    def use_compiled(self) -> bool:
        """Walk the trees with the compiled loop from now on, where Numba compiles it."""
        from onyx.ops.ml import trees_compiled

        self.compiled = trees_compiled.compile_walk()
        if self.compiled:
            for name in ("slot_feature", "slot_base", "slot_is_branch", "slot_mode", "slot_missing",
                         "slot_member_row", "members", "threshold32", "slot_threshold", "slot_leaf_row",
                         "leaf_values", "leaf_present"):
                setattr(self, name, np.ascontiguousarray(getattr(self, name)))
            self._build_lanes()
        return self.compiled

    def lane_walk(self, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The arrays of trees_compiled's lane walk for ``threshold`` (threshold32 or
        slot_threshold), or None where a branch compares other than <= or <."""
        return self._lanes.get(threshold.dtype)

    def _build_lanes(self) -> None:
        """Per slot (feature, base) as int32 and the threshold of ``x <= t``: a BRANCH_LT's moved
        down one float (for any x but NaN, x < t is x <= that; below -inf, NaN: never true). The
        lane walk is for samples without NaN only: it does not follow missing-value directions."""
        if not set(self.modes) <= {LEQ, LT} or len(self.slot_base) >= 2**31:
            return
        feature_base = np.stack([self.slot_feature, self.slot_base], axis=1).astype(np.int32)
        for threshold in (self.threshold32, self.slot_threshold):
            below = np.nextafter(threshold, threshold.dtype.type(-np.inf))
            below[threshold == -np.inf] = np.nan
            self._lanes[threshold.dtype] = (feature_base, np.where(self.slot_mode == LT, below, threshold))

    @property
    def n_targets(self) -> int:
        return self.leaf_values.shape[1]

    def _goes_true(self, x: np.ndarray, slots: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """The (normalised) branch condition of ``slots`` for feature values ``x``."""
        if len(self.modes) == 1 and self.modes[0] != MEMBER:
            return _COMPARE[self.modes[0]](x, threshold.take(slots))
        modes = self.slot_mode.take(slots)
        cond = np.empty(len(slots), dtype=bool)
        for code in self.modes:
            sel = modes == code
            if code == MEMBER:
                rows = self.slot_member_row[slots[sel]]
                cond[sel] = (x[sel, None] == self.members[rows]).any(axis=1)
            else:
                cond[sel] = _COMPARE[code](x[sel], threshold[slots[sel]])
        return cond

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """[trees, N] slot of the leaf each sample reaches in each tree."""
        n_samples, n_features = X.shape
        if n_features < self.n_features:
            raise ValueError(f"the trees read feature {self.n_features - 1} but X has {n_features} features")
        if X.dtype == np.float32 and self.exact32:
            threshold = self.threshold32
        else:
            threshold = self.slot_threshold
            X = X.astype(np.float64)
        if self.compiled:
            from onyx.ops.ml import trees_compiled

            return trees_compiled.leaves(self, X, threshold)
        n_trees = len(self.roots)
        flat = np.ascontiguousarray(X).reshape(-1)
        check_nan = self.has_missing and bool(np.isnan(flat).any())
        # Trees go in groups small enough for the per-pair arrays to stay in cache.
        per = max(1, _PAIRS_PER_GROUP // max(n_samples, 1))
        groups = -(-n_trees // per)
        if groups > 1:  # as many groups on every thread
            threads = threads_count()
            per = max(1, -(-n_trees // (-(-groups // threads) * threads)))
        offsets = np.tile(np.arange(n_samples, dtype=np.intp) * n_features, min(per, n_trees))
        out = np.empty((n_trees, n_samples), dtype=np.intp)

        def walk_group(t0: int) -> None:
            t1 = min(t0 + per, n_trees)
            roots = np.repeat(np.arange(t0, t1, dtype=np.intp), n_samples)  # tree-major (tree, sample) pairs
            out[t0:t1] = self._walk(flat, threshold, roots, offsets[:roots.size], check_nan).reshape(t1 - t0, -1)

        parallel_map(walk_group, range(0, n_trees, per))
        return out

    def _walk(self, flat: np.ndarray, threshold: np.ndarray, slot: np.ndarray, offsets: np.ndarray,
              check_nan: bool) -> np.ndarray:
        """The leaf slot reached from each of ``slot``; ``offsets`` locate each pair's sample in ``flat``."""
        result, active = slot, None
        for level in range(1, self.depth + 1):
            index = self.slot_feature.take(slot)
            index += offsets
            x = flat.take(index)
            cond = self._goes_true(x, slot, threshold)
            if check_nan:
                cond |= np.isnan(x) & self.slot_missing.take(slot)
            slot = self.slot_base.take(slot)
            slot += cond
            if self.min_depth <= level < self.depth:
                going = self.slot_is_branch.take(slot)
                if 2 * np.count_nonzero(going) <= going.size:  # compact once half the pairs are done
                    if active is None:
                        result, active = slot, np.flatnonzero(going)
                    else:
                        result[active] = slot
                        active = active[going]
                    slot, offsets = slot[going], offsets[going]
        if active is None:
            return slot
        result[active] = slot
        return result

    def aggregate(self, X: np.ndarray, how: str, with_voted: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-target scores [N, targets] (float64) and, when asked, whether any tree voted for them."""
        if how not in AGGREGATES:
            raise ValueError(f"aggregate_function '{how}' is not one of {', '.join(AGGREGATES)}")
        slots = self.leaves(X)
        n_trees, n = slots.shape
        if self.single_vote and how in ("SUM", "AVERAGE"):
            scores, voted = self._sum_single_votes(slots, with_voted)
            if how == "AVERAGE":
                scores /= max(n_trees, 1)
            return scores, voted
        if self.compiled and how in ("SUM", "AVERAGE"):
            from onyx.ops.ml import trees_compiled

            scores, voted = trees_compiled.sum_votes(self, slots)
            if how == "AVERAGE":
                scores /= max(n_trees, 1)
            return np.where(voted, scores, 0.0), voted
        rows = self.slot_leaf_row[slots.T]
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

    def _sum_single_votes(self, slots: np.ndarray, with_voted: bool) -> tuple[np.ndarray, np.ndarray | None]:
        n_trees, n = slots.shape
        k = self.n_targets
        weights = self.slot_weight.take(slots)
        if self.only_target is not None or n_trees == 0:
            scores = np.zeros((n, k))
            target = self.only_target or 0
            scores[:, target] = weights.sum(axis=0)
            voted = None
            if with_voted:
                voted = np.zeros((n, k), dtype=bool)
                voted[:, target] = self.slot_votes.take(slots).any(axis=0)
            return scores, voted
        bins = (self.slot_target.take(slots) + np.arange(n) * k).reshape(-1)
        scores = np.bincount(bins, weights=weights.reshape(-1), minlength=n * k).reshape(n, k)
        voted = None
        if with_voted:
            present = self.slot_votes.take(slots).reshape(-1)
            voted = np.bincount(bins[present], minlength=n * k).reshape(n, k) > 0
        return scores, voted


def _depths(base: np.ndarray, is_branch: np.ndarray, n_trees: int) -> tuple[int, int]:
    """The shallowest leaf depth and the deepest (levels walked from the roots) over all trees."""
    frontier = np.arange(n_trees)
    shallowest, level = None, 0
    while frontier.size:
        if level > len(base):
            raise ValueError("the trees contain a cycle")
        branches = frontier[is_branch[frontier]]
        if shallowest is None and branches.size < frontier.size:
            shallowest = level
        frontier = np.concatenate([base[branches], base[branches] + 1])
        if frontier.size > len(base):  # children shared between branches: visit each once per level
            frontier = np.unique(frontier)
        level += 1
    return (shallowest or 0), max(level - 1, 0)


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

    try:
        mode = np.fromiter(map(MODE_CODES.__getitem__, modes), dtype=np.uint8, count=len(modes))
    except KeyError as e:
        raise ValueError(f"unknown node mode {e}") from None
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
    """A preparing kernel's attributes (its locals at entry)."""
    return dict(scope)


def _named(run: Callable, compiled: bool) -> Callable:
    return named(run, "numba:trees") if compiled else run


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


def _regressor(a: dict) -> Callable[[np.ndarray], np.ndarray]:
    """The per-run TreeEnsembleRegressor of a node's attributes: its forest compiled once."""
    if a["n_targets"] is None:
        raise ValueError("TreeEnsembleRegressor needs n_targets")
    forest, base, _ = _compile(a, "target", a["n_targets"])
    compiled = a["_node"].compiled and forest.use_compiled()
    aggregate, transform = a["aggregate_function"], a["post_transform"]

    def regress(X) -> np.ndarray:
        scores, _ = forest.aggregate(_matrix(X), aggregate)
        if base is not None:
            scores = scores + base
        return transform_scores(scores, transform).astype(np.float32)

    return _named(regress, compiled)


@kernel("TreeEnsembleRegressor", since=(1, 3), domain=ML, prepare=True)
def tree_ensemble_regressor_3(*, aggregate_function="SUM", base_values=None, base_values_as_tensor=None,
                              n_targets=None, nodes_falsenodeids=None, nodes_featureids=None,
                              nodes_hitrates=None, nodes_hitrates_as_tensor=None,
                              nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_nodeids=None,
                              nodes_treeids=None, nodes_truenodeids=None, nodes_values=None,
                              nodes_values_as_tensor=None, post_transform="NONE", target_ids=None,
                              target_nodeids=None, target_treeids=None, target_weights=None,
                              target_weights_as_tensor=None, _node=NodeContext()):
    return _regressor(_attributes(locals()))


# -- TreeEnsembleClassifier -----------------------------------------------------------


def _binary_scores(s: np.ndarray, transform: str, all_positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two-class output from the single score the trees give the second class, and the winner mask."""
    if transform == "LOGISTIC":
        return np.stack([logistic(-s), logistic(s)], axis=1), s > 0
    if transform == "NONE" and all_positive:
        return np.stack([1.0 - s, s], axis=1), s > 0.5
    return transform_scores(np.stack([-s, s], axis=1), transform), s > 0


def _classifier(a: dict) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The per-run TreeEnsembleClassifier of a node's attributes: its forest compiled once."""
    labels = class_labels(a["classlabels_int64s"], a["classlabels_strings"])
    forest, base, all_positive = _compile(a, "class", len(labels))
    compiled = a["_node"].compiled and forest.use_compiled()
    transform = a["post_transform"]
    binary = len(labels) == 2 and not forest.leaf_present[:, 1].any()

    def classify(X) -> tuple[np.ndarray, np.ndarray]:
        if binary:
            # Binary trees that only score one class: that score is the second class's.
            scores, _ = forest.aggregate(_matrix(X), "SUM")
            s = scores[:, 0] + (base[0] if base is not None else 0.0)
            positive = all_positive and (base is None or base[0] >= 0)
            probabilities, second = _binary_scores(s, transform, positive)
            return labels[second.astype(np.int64)], probabilities.astype(np.float32)
        scores, voted = forest.aggregate(_matrix(X), "SUM", with_voted=base is None)
        if base is not None:
            if base.size != len(labels):
                raise ValueError(f"base_values has {base.size} values for {len(labels)} classes")
            scores = scores + base
            winner = np.argmax(scores, axis=1)
        else:
            winner = np.argmax(np.where(voted, scores, -np.inf), axis=1)
        return labels[winner], transform_scores(scores, transform).astype(np.float32)

    return _named(classify, compiled)


@kernel("TreeEnsembleClassifier", since=(1, 3), domain=ML, prepare=True)
def tree_ensemble_classifier_3(*, base_values=None, base_values_as_tensor=None, class_ids=None,
                               class_nodeids=None, class_treeids=None, class_weights=None,
                               class_weights_as_tensor=None, classlabels_int64s=None, classlabels_strings=None,
                               nodes_falsenodeids=None, nodes_featureids=None, nodes_hitrates=None,
                               nodes_hitrates_as_tensor=None, nodes_missing_value_tracks_true=None,
                               nodes_modes=None, nodes_nodeids=None, nodes_treeids=None, nodes_truenodeids=None,
                               nodes_values=None, nodes_values_as_tensor=None, post_transform="NONE",
                               _node=NodeContext()):
    return _classifier(_attributes(locals()))


# -- TreeEnsemble (ml opset 5) --------------------------------------------------------


@kernel("TreeEnsemble", since=5, domain=ML, prepare=True)
def tree_ensemble(*, aggregate_function=1, leaf_targetids=None, leaf_weights=None, membership_values=None,
                  n_targets=None, nodes_falseleafs=None, nodes_falsenodeids=None, nodes_featureids=None,
                  nodes_hitrates=None, nodes_missing_value_tracks_true=None, nodes_modes=None, nodes_splits=None,
                  nodes_trueleafs=None, nodes_truenodeids=None, post_transform=0, tree_roots=None,
                  _node=NodeContext()):
    if n_targets is None:
        raise ValueError("TreeEnsemble needs n_targets")
    if not 0 <= aggregate_function < len(AGGREGATES):
        raise ValueError(f"aggregate_function {aggregate_function} is not one of 0..3")
    forest = forest_v5(
        nodes_featureids, nodes_splits, nodes_modes, nodes_truenodeids, nodes_trueleafs, nodes_falsenodeids,
        nodes_falseleafs, nodes_missing_value_tracks_true, membership_values, tree_roots, leaf_targetids,
        leaf_weights, n_targets)
    aggregate = AGGREGATES[aggregate_function]
    compiled = _node.compiled and forest.use_compiled()

    def run(X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"TreeEnsemble expects X of shape [N, F], got {list(X.shape)}")
        scores, _ = forest.aggregate(X, aggregate)
        return transform_scores(scores, post_transform).astype(X.dtype)

    return _named(run, compiled)
