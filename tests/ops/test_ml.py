"""ai.onnx.ml kernels on small hand-built models, checked against onnxruntime (and exact values)
for what the backend suite does not cover."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onyx
from oracle import run_both

ML = "ai.onnx.ml"
rng = np.random.default_rng(0)


def make_model(op_type: str, inputs: list, outputs: list, ml_opset: int = 3, **attrs) -> bytes:
    """One ai.onnx.ml node; inputs/outputs are (name, TypeProto) pairs."""
    node = helper.make_node(op_type, [n for n, _ in inputs], [n for n, _ in outputs], domain=ML, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_value_info(n, t) for n, t in inputs],
                              [helper.make_value_info(n, t) for n, t in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid(ML, ml_opset)])
    model.ir_version = 9
    return model.SerializeToString()


def tensor(elem_type: int, shape: int | list | None = None) -> onnx.TypeProto:
    """A tensor type; an int shape means that many unknown dimensions."""
    return helper.make_tensor_type_proto(elem_type, [None] * shape if isinstance(shape, int) else shape)


F, D, I64, STR = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING


def assert_same(model: bytes, feeds: dict, rtol: float = 1e-5, atol: float = 1e-6) -> list:
    ours, theirs = run_both(model, feeds)
    for a, b in zip(ours, theirs):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        if np.asarray(b).dtype == object:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return ours


# -- sequences and maps ------------------------------------------------------------------


@pytest.mark.parametrize("labels", [{"classlabels_int64s": [3, 7, 9]}, {"classlabels_strings": ["a", "b", "c"]}])
def test_zipmap_returns_list_of_dicts(labels):
    key = I64 if "classlabels_int64s" in labels else STR
    out_type = helper.make_sequence_type_proto(helper.make_map_type_proto(key, tensor(F)))
    model = make_model("ZipMap", [("X", tensor(F, [None, 3]))], [("Z", out_type)], **labels)
    X = rng.random((4, 3), dtype=np.float32)
    ours, theirs = run_both(model, {"X": X})
    assert isinstance(ours[0], list) and all(type(row) is dict for row in ours[0])
    assert [list(row) for row in ours[0]] == [list(row) for row in theirs[0]]
    for mine, ref in zip(ours[0], theirs[0]):
        assert all(type(k) is type(r) for k, r in zip(mine, ref))
        np.testing.assert_allclose(list(mine.values()), list(ref.values()), rtol=1e-6)


@pytest.mark.parametrize("vocab", [{"string_vocabulary": ["a", "c", "b", "z"]}, {"int64_vocabulary": [5, 1, 9]}])
def test_dict_vectorizer(vocab):
    strings = "string_vocabulary" in vocab
    feed = {"a": 4.0, "c": 8.0} if strings else {9: 2.5, 5: -1.0}
    in_type = helper.make_map_type_proto(STR if strings else I64, tensor(F))
    model = make_model("DictVectorizer", [("X", in_type)], [("Y", tensor(F, 2))], **vocab)
    (ours,) = onyx.InferenceSession(model).run(None, {"X": feed})
    expected = [[4, 8, 0, 0]] if strings else [[-1, 0, 2.5]]
    np.testing.assert_array_equal(ours, np.array(expected, dtype=np.float32))


def test_cast_map():
    in_type = helper.make_map_type_proto(I64, tensor(F))
    dense = make_model("CastMap", [("X", in_type)], [("Y", tensor(F, 2))], cast_to="TO_FLOAT")
    sparse = make_model("CastMap", [("X", in_type)], [("Y", tensor(I64, 2))], cast_to="TO_INT64",
                        map_form="SPARSE", max_map=5)
    feed = {"X": {3: 1.5, 0: 2.0}}
    np.testing.assert_array_equal(onyx.InferenceSession(dense).run(None, feed)[0], [[2.0, 1.5]])
    np.testing.assert_array_equal(onyx.InferenceSession(sparse).run(None, feed)[0], [[2, 0, 0, 1, 0]])


# -- encoders ----------------------------------------------------------------------------


@pytest.mark.parametrize("attrs, x, out", [
    ({"keys_int64s": [1, 2, 3], "values_strings": ["a", "b", "c"], "default_string": "?"},
     np.array([[3, 1], [7, 2]], dtype=np.int64), STR),
    ({"keys_floats": [0.5, float("nan"), 2.0], "values_int64s": [5, 6, 7]},
     np.array([0.5, np.nan, 3.0, 2.0], dtype=np.float32), I64),
    ({"keys_strings": ["x", "y", "x"], "values_floats": [1.0, 2.0, 3.0], "default_float": 9.0},
     np.array(["x", "y", "w"], dtype=object), F),
])
def test_label_encoder_2(attrs, x, out):
    in_type = {np.dtype(np.int64): I64, np.dtype(np.float32): F}.get(x.dtype, STR)
    model = make_model("LabelEncoder", [("X", tensor(in_type, x.ndim))], [("Y", tensor(out, x.ndim))], ml_opset=2, **attrs)
    assert_same(model, {"X": x})


def test_label_encoder_4_tensors():
    """onnxruntime has no LabelEncoder-4 kernel: exact expectations instead."""
    attrs = {"keys_tensor": helper.make_tensor("k", D, [4], [1.5, 2.5, np.nan, 1.5]),
             "values_tensor": helper.make_tensor("v", TensorProto.INT32, [4], [10, 20, 30, 40]),
             "default_tensor": helper.make_tensor("d", TensorProto.INT32, [1], [-7])}
    model = make_model("LabelEncoder", [("X", tensor(D, 1))], [("Y", tensor(TensorProto.INT32, 1))], ml_opset=4, **attrs)
    (y,) = onyx.InferenceSession(model).run(None, {"X": np.array([2.5, 0.0, np.nan, 1.5], dtype=np.float64)})
    np.testing.assert_array_equal(y, np.array([20, -7, 30, 40], dtype=np.int32))


def test_label_encoder_4_string_keys_tensor_values():
    model = make_model("LabelEncoder", [("X", tensor(STR, 1))], [("Y", tensor(D, 1))], ml_opset=4,
                       keys_strings=["a", "b"], values_tensor=helper.make_tensor("v", D, [2], [0.5, 1.5]))
    (y,) = onyx.InferenceSession(model).run(None, {"X": np.array(["b", "z", "a"], dtype=object)})
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [1.5, -0.0, 0.5])


def test_label_encoder_1():
    to_int = make_model("LabelEncoder", [("X", tensor(STR, 1))], [("Y", tensor(I64, 1))], ml_opset=1,
                        classes_strings=["a", "b"], default_int64=-5)
    to_str = make_model("LabelEncoder", [("X", tensor(I64, 1))], [("Y", tensor(STR, 1))], ml_opset=1,
                        classes_strings=["a", "b"], default_string="?")
    (y,) = onyx.InferenceSession(to_int).run(None, {"X": np.array(["b", "q", "a"], dtype=object)})
    np.testing.assert_array_equal(y, [1, -5, 0])
    (y,) = onyx.InferenceSession(to_str).run(None, {"X": np.array([1, 4, 0], dtype=np.int64)})
    assert y.tolist() == ["b", "?", "a"]


def test_category_mapper():
    attrs = {"cats_strings": ["cat", "dog", "cow"], "cats_int64s": [1, 2, 3]}
    to_int = make_model("CategoryMapper", [("X", tensor(STR, 2))], [("Y", tensor(I64, 2))], default_int64=-9, **attrs)
    to_str = make_model("CategoryMapper", [("X", tensor(I64, 1))], [("Y", tensor(STR, 1))], default_string="?", **attrs)
    assert_same(to_int, {"X": np.array([["dog", "eel"], ["cow", "cat"]], dtype=object)})
    assert_same(to_str, {"X": np.array([3, 0, 1], dtype=np.int64)})


@pytest.mark.parametrize("attrs, x", [
    ({"cats_strings": ["a", "b", "c"]}, np.array([["a", "c"], ["z", "b"]], dtype=object)),
    ({"cats_int64s": [4, 2, 9]}, np.array([2.0, 9.7, 5.0], dtype=np.float64)),
])
def test_one_hot_encoder(attrs, x):
    in_type = STR if x.dtype == object else D
    model = make_model("OneHotEncoder", [("X", tensor(in_type, x.ndim))], [("Y", tensor(F, x.ndim + 1))], **attrs)
    (y,) = assert_same(model, {"X": x})
    assert y.shape == x.shape + (3,)
    strict = make_model("OneHotEncoder", [("X", tensor(in_type, x.ndim))], [("Y", tensor(F, x.ndim + 1))], zeros=0, **attrs)
    with pytest.raises(onyx.OnyxError if hasattr(onyx, "OnyxError") else Exception):
        onyx.InferenceSession(strict).run(None, {"X": x})


# -- numeric preprocessing ---------------------------------------------------------------


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer(norm):
    model = make_model("Normalizer", [("X", tensor(F, [None, 4]))], [("Y", tensor(F, 2))], norm=norm)
    X = rng.normal(size=(5, 4)).astype(np.float32)
    X[2] = 0
    assert_same(model, {"X": X})


def test_scaler_imputer_binarizer():
    X = rng.normal(size=(5, 3)).astype(np.float32)
    X[1, 2] = np.nan
    scaler = make_model("Scaler", [("X", tensor(F, [None, 3]))], [("Y", tensor(F, 2))],
                        offset=[0.5, -1.0, 2.0], scale=[2.0, 0.5, -1.0])
    imputer = make_model("Imputer", [("X", tensor(F, [None, 3]))], [("Y", tensor(F, 2))],
                         imputed_value_floats=[1.0, 2.0, 3.0], replaced_value_float=float("nan"))
    binarizer = make_model("Binarizer", [("X", tensor(F, [None, 3]))], [("Y", tensor(F, 2))], threshold=0.2)
    assert_same(imputer, {"X": X})
    X[1, 2] = 0.3
    assert_same(scaler, {"X": X})
    assert_same(binarizer, {"X": X})


def test_imputer_int64():
    model = make_model("Imputer", [("X", tensor(I64, [None, 2]))], [("Y", tensor(I64, 2))],
                       imputed_value_int64s=[7], replaced_value_int64=-1)
    assert_same(model, {"X": np.array([[-1, 3], [4, -1]], dtype=np.int64)})


def test_feature_vectorizer():
    model = make_model("FeatureVectorizer", [("A", tensor(F, [None, 2])), ("B", tensor(F, [None, 3]))],
                       [("Y", tensor(F, 2))], inputdimensions=[2, 3])
    A, B = rng.random((4, 2), dtype=np.float32), rng.random((4, 3), dtype=np.float32)
    (y,) = assert_same(model, {"A": A, "B": B})
    np.testing.assert_array_equal(y, np.hstack([A, B]))


def test_array_feature_extractor_strings_and_1d():
    model = make_model("ArrayFeatureExtractor", [("X", tensor(STR, 2)), ("Y", tensor(I64, 1))], [("Z", tensor(STR, 2))])
    assert_same(model, {"X": np.array([["a", "b", "c"], ["d", "e", "f"]], dtype=object),
                        "Y": np.array([2, 0], dtype=np.int64)})
    floats = make_model("ArrayFeatureExtractor", [("X", tensor(F, 1)), ("Y", tensor(I64, 1))], [("Z", tensor(F, 2))])
    assert_same(floats, {"X": np.arange(5, dtype=np.float32), "Y": np.array([4, 1, 1], dtype=np.int64)})


# -- linear models and score transforms -------------------------------------------------------


@pytest.mark.parametrize("transform", ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO"])
def test_linear_regressor_post_transforms(transform):
    X = rng.normal(size=(6, 3)).astype(np.float32) * 0.3
    coef = [0.1, -0.2, 0.3, 0.4, 0.1, -0.1]
    intercepts = [0.0, 0.0] if transform == "SOFTMAX_ZERO" else [0.4, 0.45]
    model = make_model("LinearRegressor", [("X", tensor(F, [None, 3]))], [("Y", tensor(F, 2))], targets=2,
                       coefficients=coef, intercepts=intercepts, post_transform=transform)
    assert_same(model, {"X": X})


def test_softmax_zero_keeps_zeros():
    """An all-zero row stays zero (onnxruntime divides 0 by 0 there)."""
    model = make_model("LinearRegressor", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))], targets=2,
                       coefficients=[1.0, 0.0, 0.0, 1.0], post_transform="SOFTMAX_ZERO")
    (y,) = onyx.InferenceSession(model).run(None, {"X": np.array([[0, 0], [0, 2], [1, 1]], dtype=np.float32)})
    np.testing.assert_allclose(y, [[0, 0], [0, 1], [0.5, 0.5]], rtol=1e-6)


def test_probit():
    """PROBIT is the standard normal quantile (onnxruntime only approximates it to ~1e-4)."""
    special = pytest.importorskip("scipy.special")
    p = np.array([1e-6, 0.01, 0.02425, 0.2, 0.5, 0.7, 0.97575, 0.999, 1 - 1e-7])
    model = make_model("LinearRegressor", [("X", tensor(D, [None, 1]))], [("Y", tensor(F, 2))],
                       coefficients=[1.0], post_transform="PROBIT")
    (y,) = onyx.InferenceSession(model).run(None, {"X": p[:, None]})
    np.testing.assert_allclose(y[:, 0], special.ndtri(p), rtol=1e-6)


@pytest.mark.parametrize("transform", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("labels", [{"classlabels_ints": [3, 8]}, {"classlabels_strings": ["no", "yes"]}])
def test_linear_classifier_one_score(transform, labels):
    X = rng.normal(size=(6, 3)).astype(np.float32)
    label_type = I64 if "classlabels_ints" in labels else STR
    model = make_model("LinearClassifier", [("X", tensor(F, [None, 3]))],
                       [("Y", tensor(label_type, 2)), ("Z", tensor(F, 2))],
                       coefficients=[0.5, -1.0, 0.25], intercepts=[0.1], post_transform=transform, **labels)
    assert_same(model, {"X": X})


# -- SVM ---------------------------------------------------------------------------------


def svm_attrs(n_classes: int, kernel_type: str) -> dict:
    counts = [2, 3, 2][:n_classes]
    n_sv = sum(counts)
    return {"kernel_type": kernel_type, "kernel_params": [0.3, 0.5, 2.0], "vectors_per_class": counts,
            "support_vectors": rng.normal(size=n_sv * 3).tolist(),
            "coefficients": rng.normal(size=(n_classes - 1) * n_sv).tolist(),
            "rho": rng.normal(size=n_classes * (n_classes - 1) // 2).tolist(),
            "classlabels_strings": ["a", "b", "c"][:n_classes]}


@pytest.mark.parametrize("kernel_type", ["LINEAR", "POLY", "RBF", "SIGMOID"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_svm_classifier_scores(kernel_type, n_classes):
    X = rng.normal(size=(8, 3)).astype(np.float32)
    model = make_model("SVMClassifier", [("X", tensor(F, [None, 3]))], [("Y", tensor(STR, 2)), ("Z", tensor(F, 2))],
                       **svm_attrs(n_classes, kernel_type))
    assert_same(model, {"X": X}, rtol=1e-4, atol=1e-5)


# -- tree ensembles ----------------------------------------------------------------------

# Two small trees on 2 features; node modes vary per test.
TREES = {
    "nodes_treeids": [0, 0, 0, 0, 0, 1, 1, 1],
    "nodes_nodeids": [0, 1, 2, 3, 4, 0, 1, 2],
    "nodes_featureids": [0, 1, 0, 0, 0, 1, 0, 0],
    "nodes_values": [0.5, -0.2, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0],
    "nodes_truenodeids": [1, 3, 0, 0, 0, 1, 0, 0],
    "nodes_falsenodeids": [2, 4, 0, 0, 0, 2, 0, 0],
    "nodes_missing_value_tracks_true": [1, 0, 0, 0, 0, 0, 0, 0],
}
LEAVES = {"treeids": [0, 0, 0, 0, 1, 1, 1], "nodeids": [2, 3, 4, 4, 1, 2, 2], "ids": [0, 1, 0, 1, 1, 0, 1],
          "weights": [1.0, -2.0, 3.0, 0.5, 4.0, -1.0, 2.0]}


def tree_modes(branch: str, other: str) -> list:
    return [branch, other, "LEAF", "LEAF", "LEAF", other, "LEAF", "LEAF"]


TREE_X = np.array([[0.5, -0.2], [0.4, 0.3], [0.9, 0.1], [np.nan, 0.0], [0.6, np.nan], [-3, 1]], dtype=np.float32)


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("modes", [("BRANCH_LEQ", "BRANCH_LEQ"), ("BRANCH_LT", "BRANCH_GTE"),
                                   ("BRANCH_GT", "BRANCH_EQ"), ("BRANCH_NEQ", "BRANCH_LT")])
def test_tree_ensemble_regressor(aggregate, modes):
    attrs = dict(TREES, nodes_modes=tree_modes(*modes), n_targets=2, aggregate_function=aggregate,
                 **{f"target_{k}": v for k, v in LEAVES.items()})
    model = make_model("TreeEnsembleRegressor", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))], **attrs)
    (y,) = assert_same(model, {"X": TREE_X})
    # base_values are added after aggregation, also to targets no leaf voted for (onnxruntime
    # leaves those at 0 under SUM)
    based = make_model("TreeEnsembleRegressor", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))],
                       base_values=[0.25, -0.5], **attrs)
    (y_based,) = onyx.InferenceSession(based).run(None, {"X": TREE_X})
    np.testing.assert_allclose(y_based, y + np.float32([0.25, -0.5]), rtol=1e-6)


@pytest.mark.parametrize("transform", ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO"])
def test_tree_ensemble_classifier(transform):
    weights = [0.1, 0.2, 0.3, 0.05, 0.4, 0.15, 0.2]
    attrs = dict(TREES, nodes_modes=tree_modes("BRANCH_LEQ", "BRANCH_LT"), classlabels_int64s=[10, 20, 30],
                 post_transform=transform, class_treeids=LEAVES["treeids"] + [1],
                 class_nodeids=LEAVES["nodeids"] + [1], class_ids=LEAVES["ids"] + [2], class_weights=weights + [0.3])
    model = make_model("TreeEnsembleClassifier", [("X", tensor(F, [None, 2]))],
                       [("Y", tensor(I64, 2)), ("Z", tensor(F, 2))], **attrs)
    assert_same(model, {"X": TREE_X[:3]})


def test_tree_ensemble_regressor_as_tensor_double():
    attrs = dict(TREES, nodes_modes=tree_modes("BRANCH_LEQ", "BRANCH_LEQ"), n_targets=2,
                 **{f"target_{k}": v for k, v in LEAVES.items() if k != "weights"})
    attrs["nodes_values_as_tensor"] = helper.make_tensor("v", D, [8], attrs.pop("nodes_values"))
    attrs["target_weights_as_tensor"] = helper.make_tensor("w", D, [7], LEAVES["weights"])
    model = make_model("TreeEnsembleRegressor", [("X", tensor(D, [None, 2]))], [("Y", tensor(F, 2))], **attrs)
    assert_same(model, {"X": TREE_X.astype(np.float64)})


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
@pytest.mark.parametrize("transform", [0, 1, 2, 3])
def test_tree_ensemble_5(aggregate, transform):
    """Two trees, every branch mode, a NaN-tracking node, several targets; compared with onnxruntime."""
    attrs = {
        "n_targets": 3, "aggregate_function": aggregate, "post_transform": transform, "tree_roots": [0, 4],
        "nodes_modes": helper.make_tensor("m", TensorProto.UINT8, [6], [0, 6, 4, 2, 1, 5]),
        "nodes_featureids": [0, 1, 0, 1, 0, 1],
        "nodes_splits": helper.make_tensor("s", F, [6], [0.0, 0.0, 1.0, 0.5, -0.5, 2.0]),
        "membership_values": helper.make_tensor("mv", F, [4], [1.0, 2.0, np.nan, 3.0]),
        "nodes_truenodeids": [1, 0, 1, 2, 5, 3], "nodes_trueleafs": [0, 1, 1, 1, 0, 1],
        "nodes_falsenodeids": [2, 3, 2, 3, 4, 4], "nodes_falseleafs": [0, 0, 1, 1, 1, 1],
        "nodes_missing_value_tracks_true": [0, 0, 1, 0, 1, 0],
        "leaf_targetids": [0, 1, 2, 0, 2, 1], "leaf_weights": helper.make_tensor("w", F, [6], [1, 2, 3, 4, 5, 6]),
    }
    X = np.array([[-1, 1], [-1, 2], [-1, 5], [1, 0.2], [1, 0.7], [np.nan, 1], [1, np.nan], [-1, np.nan],
                  [-0.7, 2.5], [-0.2, 3]], dtype=np.float32)
    if transform in (1, 2):
        # onnxruntime swaps SOFTMAX (1) and LOGISTIC (2) here: check the raw scores against it and
        # the transform against its definition
        model = make_model("TreeEnsemble", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))], ml_opset=5,
                           **dict(attrs, post_transform=0))
        (raw,) = assert_same(model, {"X": X})
        raw = raw.astype(np.float64)
        expected = (np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)) if transform == 1 else 1 / (1 + np.exp(-raw))
        model = make_model("TreeEnsemble", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))], ml_opset=5, **attrs)
        (y,) = onyx.InferenceSession(model).run(None, {"X": X})
        np.testing.assert_allclose(y, expected, rtol=1e-6)
    else:
        model = make_model("TreeEnsemble", [("X", tensor(F, [None, 2]))], [("Y", tensor(F, 2))], ml_opset=5, **attrs)
        assert_same(model, {"X": X})


def test_tree_ensemble_many_samples_vectorized():
    """A larger random forest (v3 encoding) agrees with onnxruntime on many samples."""
    n_trees, depth = 20, 5
    ids, feats, vals, modes, true_ids, false_ids, tree_ids = [], [], [], [], [], [], []
    leaves = []
    per_tree = 2 ** (depth + 1) - 1
    for t in range(n_trees):
        for n in range(per_tree):
            tree_ids.append(t)
            ids.append(n)
            if n < 2 ** depth - 1:
                modes.append("BRANCH_LEQ")
                feats.append(int(rng.integers(4)))
                vals.append(float(rng.normal()))
                true_ids.append(2 * n + 1)
                false_ids.append(2 * n + 2)
            else:
                modes.append("LEAF")
                feats.append(0)
                vals.append(0.0)
                true_ids.append(0)
                false_ids.append(0)
                leaves.append((t, n))
    attrs = {"nodes_treeids": tree_ids, "nodes_nodeids": ids, "nodes_featureids": feats, "nodes_values": vals,
             "nodes_modes": modes, "nodes_truenodeids": true_ids, "nodes_falsenodeids": false_ids,
             "target_treeids": [t for t, _ in leaves], "target_nodeids": [n for _, n in leaves],
             "target_ids": [0] * len(leaves), "target_weights": rng.normal(size=len(leaves)).tolist(),
             "n_targets": 1, "aggregate_function": "AVERAGE"}
    model = make_model("TreeEnsembleRegressor", [("X", tensor(F, [None, 4]))], [("Y", tensor(F, 2))], **attrs)
    assert_same(model, {"X": rng.normal(size=(500, 4)).astype(np.float32)})
