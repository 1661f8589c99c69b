"""Train the bundled example model: a small digits classifier exported to ONNX.

Run at development time (needs scikit-learn, which ships the 8x8 digits dataset):
    python examples/digits/train_digits.py
Writes digits.onnx (an MLP: Gemm -> Relu -> Gemm -> Softmax, plus ArgMax for the label)
and sample.npy (the first five test images), both beside this script.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).parent


def build_model(clf: MLPClassifier) -> onnx.ModelProto:
    (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    initializers = [
        numpy_helper.from_array(a.astype(np.float32), name)
        for name, a in [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2), ("scale", np.array(1 / 16.0))]
    ]
    nodes = [
        helper.make_node("Mul", ["image", "scale"], ["scaled"], name="normalize"),
        helper.make_node("Gemm", ["scaled", "w1", "b1"], ["hidden_pre"], name="dense1"),
        helper.make_node("Relu", ["hidden_pre"], ["hidden"], name="relu1"),
        helper.make_node("Gemm", ["hidden", "w2", "b2"], ["logits"], name="dense2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 64])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
        ],
        initializers,
        doc_string="8x8 handwritten digits (pixel values 0-16, flattened) -> digit 0-9",
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onyx-examples")
    model.ir_version = 8
    model.model_version = 1
    model.doc_string = "MLP digits classifier trained on scikit-learn's bundled digits dataset"
    helper.set_model_props(model, {"classes": ",".join(str(c) for c in clf.classes_), "input_range": "0-16"})
    onnx.checker.check_model(model)
    return model


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=600, random_state=0).fit(x_train / 16.0, y_train)
    print(f"test accuracy: {clf.score(x_test / 16.0, y_test):.3f}")
    onnx.save(build_model(clf), HERE / "digits.onnx")
    np.save(HERE / "sample.npy", x_test[:5].astype(np.float32))
    print("sample labels:", y_test[:5].tolist())


if __name__ == "__main__":
    main()
