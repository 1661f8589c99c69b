"""scikit-learn models converted by skl2onnx must predict what scikit-learn predicts.

Two levels: whole converted models (skipped while a default-domain op they use has no onyx
kernel, naming the op), and the converted model's ai.onnx.ml node alone, fed what scikit-learn
feeds its own estimator, so the ML kernels are checked on their own.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import helper

import onyx
from onyx.ops import registry

sklearn = pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.svm import SVC, SVR, LinearSVC, OneClassSVM  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

ML_OPSET = {"": 17, "ai.onnx.ml": 3}


def classification(n_classes: int, n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n, 6, n_informative=4, n_redundant=1, n_classes=n_classes, random_state=seed)
    return X.astype(np.float32), y


def regression(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n, 5, noise=0.5, random_state=seed)
    return X.astype(np.float32), y


def convert(model, X: np.ndarray, **options) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skl2onnx.to_onnx(model, X[:1], target_opset=ML_OPSET, options=options or None)


def require_kernels(model: onnx.ModelProto) -> None:
    """Skip unless onyx has a kernel for every op of the model (subgraphs included)."""
    opsets = {o.domain or "": o.version for o in model.opset_import}
    missing = set()

    def visit(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            if registry.lookup(node.domain, node.op_type, opsets[node.domain or ""]) is None:
                missing.add(f"{node.domain or 'ai.onnx'}::{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)

    visit(model.graph)
    if missing:
        pytest.skip(f"waiting on kernels: {', '.join(sorted(missing))}")


def run_model(model: onnx.ModelProto, X: np.ndarray) -> list:
    require_kernels(model)
    session = onyx.InferenceSession(model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: X})


def ml_node(model: onnx.ModelProto, op_type: str, X: np.ndarray) -> onnx.ModelProto:
    """A model holding only the first ``op_type`` node of ``model``, reading X."""
    node = next(n for n in model.graph.node if n.op_type == op_type)
    single = helper.make_node(node.op_type, ["X"], list(node.output), domain=node.domain)
    single.attribute.extend(node.attribute)
    x_info = helper.make_tensor_value_info("X", helper.np_dtype_to_tensor_dtype(X.dtype), [None, X.shape[1]])
    strings = any(a.name.startswith("classlabels_strings") for a in node.attribute)
    label_type = onnx.TensorProto.STRING if strings else onnx.TensorProto.INT64
    is_label = [i == 0 and op_type.endswith("Classifier") for i in range(len(node.output))]
    outputs = [
        helper.make_tensor_value_info(name, label_type, [None]) if label
        else helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [None, None])
        for name, label in zip(node.output, is_label)
    ]
    graph = helper.make_graph([single], "single", [x_info], outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in ML_OPSET.items()])


def probabilities(zipmap_output: list, classes: np.ndarray) -> np.ndarray:
    return np.array([[row[c] for c in classes.tolist()] for row in zipmap_output])


# -- whole converted models ------------------------------------------------------------------

CLASSIFIERS = {
    "random_forest": (lambda: RandomForestClassifier(8, max_depth=5, random_state=0), 3),
    "random_forest_binary": (lambda: RandomForestClassifier(8, max_depth=5, random_state=0), 2),
    "gradient_boosting_binary": (lambda: GradientBoostingClassifier(n_estimators=10, random_state=0), 2),
    "gradient_boosting": (lambda: GradientBoostingClassifier(n_estimators=10, random_state=0), 3),
    "decision_tree": (lambda: DecisionTreeClassifier(max_depth=6, random_state=0), 4),
    "logistic_pipeline": (lambda: make_pipeline(StandardScaler(), PCA(4), LogisticRegression()), 3),
    "logistic_binary": (lambda: LogisticRegression(), 2),
    "svc_probability": (lambda: SVC(probability=True, random_state=0), 3),
    "svc_probability_binary": (lambda: SVC(probability=True, random_state=0), 2),
    "svc_poly_probability": (lambda: SVC(kernel="poly", degree=2, probability=True, random_state=0), 4),
    "knn": (lambda: KNeighborsClassifier(5), 3),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_model(name):
    factory, n_classes = CLASSIFIERS[name]
    X, y = classification(n_classes)
    model = factory().fit(X, y)
    label, zipped = run_model(convert(model, X), X)
    assert isinstance(zipped, list) and isinstance(zipped[0], dict)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(probabilities(zipped, model.classes_), model.predict_proba(X), atol=1e-5)


def test_svm_kernel_blocks_give_the_whole_matrix_results(monkeypatch):
    """SVMs compute kernel values a block of samples at a time; tiny blocks change nothing."""
    import onyx.ops.ml.svm

    X, y = classification(3)
    classifier = convert(SVC(probability=True, random_state=0).fit(X, y), X)
    Xr, yr = regression()
    regressor = convert(SVR(C=10.0).fit(Xr, yr), Xr)
    whole = run_model(classifier, X), run_model(regressor, Xr)
    monkeypatch.setattr(onyx.ops.ml.svm, "_KERNEL_BLOCK", 7)
    blocks = run_model(classifier, X), run_model(regressor, Xr)
    np.testing.assert_array_equal(blocks[0][0], whole[0][0])
    classes = sorted(whole[0][1][0])
    np.testing.assert_allclose(probabilities(blocks[0][1], np.array(classes)),
                               probabilities(whole[0][1], np.array(classes)), rtol=1e-6)
    np.testing.assert_allclose(blocks[1][0], whole[1][0], rtol=1e-6)


REGRESSORS = {
    "gradient_boosting": lambda: GradientBoostingRegressor(n_estimators=20, random_state=0),
    "decision_tree": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "extra_trees": lambda: ExtraTreesRegressor(10, max_depth=6, random_state=0),
    "random_forest": lambda: RandomForestRegressor(10, max_depth=6, random_state=0),
    "svr_rbf": lambda: SVR(C=10.0),
    "svr_linear": lambda: SVR(kernel="linear"),
    "linear": lambda: LinearRegression(),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_model(name):
    X, y = regression()
    model = REGRESSORS[name]().fit(X, y)
    (prediction,) = run_model(convert(model, X), X)
    expected = model.predict(X)
    np.testing.assert_allclose(prediction.reshape(-1), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_linear_svc_model():
    X, y = classification(3)
    model = LinearSVC(random_state=0).fit(X, y)
    label, scores = run_model(convert(model, X), X)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(scores, model.decision_function(X), rtol=1e-5, atol=1e-5)


def test_one_hot_encoder_pipeline():
    rng = np.random.default_rng(0)
    X = rng.choice(["red", "green", "blue"], size=(60, 2)).astype(object)
    y = (X[:, 0] == "red") ^ (X[:, 1] == "blue")
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(X, y)
    from skl2onnx.common.data_types import StringTensorType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = skl2onnx.convert_sklearn(model, initial_types=[("X", StringTensorType([None, 2]))],
                                       target_opset=ML_OPSET)
    label, zipped = run_model(onx, X)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(probabilities(zipped, model.classes_), model.predict_proba(X), atol=1e-5)


def test_label_encoder():
    words = np.array(["spam", "eggs", "ham", "eggs", "spam"])
    model = LabelEncoder().fit(words)
    from skl2onnx.common.data_types import StringTensorType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = skl2onnx.convert_sklearn(model, initial_types=[("X", StringTensorType([None]))], target_opset=ML_OPSET)
    (encoded,) = run_model(onx, words.astype(object))
    np.testing.assert_array_equal(encoded, model.transform(words))


# -- the ai.onnx.ml node alone ---------------------------------------------------------------


def run_node(model, X: np.ndarray, op_type: str) -> list:
    session = onyx.InferenceSession(ml_node(convert(model, X), op_type, X).SerializeToString())
    return session.run(None, {"X": X})


@pytest.mark.parametrize("name", ["random_forest", "random_forest_binary", "gradient_boosting",
                                  "gradient_boosting_binary", "decision_tree"])
def test_tree_ensemble_classifier_node(name):
    factory, n_classes = CLASSIFIERS[name]
    X, y = classification(n_classes, seed=1)
    model = factory().fit(X, y)
    label, proba = run_node(model, X, "TreeEnsembleClassifier")
    assert label.dtype == np.int64 and proba.dtype == np.float32
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("name", ["gradient_boosting", "decision_tree", "extra_trees", "random_forest"])
def test_tree_ensemble_regressor_node(name):
    X, y = regression(seed=2)
    model = REGRESSORS[name]().fit(X, y)
    (prediction,) = run_node(model, X, "TreeEnsembleRegressor")
    assert prediction.dtype == np.float32 and prediction.shape == (len(X), 1)
    expected = model.predict(X)
    np.testing.assert_allclose(prediction[:, 0], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("name", ["svc_probability", "svc_probability_binary", "svc_poly_probability"])
def test_svm_classifier_node(name):
    factory, n_classes = CLASSIFIERS[name]
    X, y = classification(n_classes, seed=3)
    model = factory().fit(X, y)
    label, proba = run_node(model, X, "SVMClassifier")
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
def test_svm_regressor_node(kernel):
    X, y = regression(seed=4)
    X = X / 3
    model = SVR(kernel=kernel, C=10.0, degree=2, gamma=0.1).fit(X, y)
    (prediction,) = run_node(model, X, "SVMRegressor")
    expected = model.predict(X)
    np.testing.assert_allclose(prediction[:, 0], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_one_class_svm_node():
    X, _ = regression(seed=5)
    model = OneClassSVM(gamma=0.1, nu=0.2).fit(X)
    (scores,) = run_node(model, X, "SVMRegressor")
    np.testing.assert_allclose(scores[:, 0], model.decision_function(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_classifier_node(n_classes):
    X, y = classification(n_classes, seed=6)
    model = LogisticRegression().fit(X, y)
    label, proba = run_node(model, X, "LinearClassifier")
    np.testing.assert_array_equal(label, model.predict(X))
    if n_classes == 2:  # binary: LOGISTIC of +-score is already the probability
        np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    else:  # multinomial: SOFTMAX (skl2onnx adds a Normalizer afterwards)
        np.testing.assert_allclose(proba / proba.sum(axis=1, keepdims=True), model.predict_proba(X), atol=1e-5)


def test_linear_svc_node():
    X, y = classification(2, seed=7)
    model = LinearSVC(random_state=0).fit(X, y)
    label, scores = run_node(model, X, "LinearClassifier")
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(scores[:, 1], model.decision_function(X), rtol=1e-5, atol=1e-5)


def test_linear_regressor_node():
    X, y = regression(seed=8)
    model = LinearRegression().fit(X, y)
    (prediction,) = run_node(model, X, "LinearRegressor")
    np.testing.assert_allclose(prediction[:, 0], model.predict(X), rtol=1e-5, atol=1e-4)


def test_scaler_node():
    X, _ = regression(seed=9)
    model = StandardScaler().fit(X)
    (scaled,) = run_node(model, X, "Scaler")
    np.testing.assert_allclose(scaled, model.transform(X), rtol=1e-5, atol=1e-5)


def test_string_labels_node():
    X, y = classification(3, seed=10)
    names = np.array(["ant", "bee", "cat"])[y]
    model = RandomForestClassifier(5, max_depth=4, random_state=0).fit(X, names)
    label, proba = run_node(model, X, "TreeEnsembleClassifier")
    assert label.dtype == object
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
