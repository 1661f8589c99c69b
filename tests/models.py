"""Small models built with onnx.helper for the runtime's own tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def add_model(shape_a=("batch", 3), shape_b=("batch", 3), dtype=TensorProto.FLOAT, opset=17) -> onnx.ModelProto:
    """y = a + b with the given declared shapes."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        "add_graph",
        [helper.make_tensor_value_info("a", dtype, shape_a), helper.make_tensor_value_info("b", dtype, shape_b)],
        [helper.make_tensor_value_info("y", dtype, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def add_bias_model(bias: np.ndarray, *, bias_is_input: bool = False) -> onnx.ModelProto:
    """y = x + bias, where bias is an initializer (optionally also a graph input, so overridable)."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])]
    if bias_is_input:
        inputs.append(helper.make_tensor_value_info("bias", TensorProto.FLOAT, [2, 3]))
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")],
        "bias_graph",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(bias.astype(np.float32), "bias")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_model() -> onnx.ModelProto:
    """x[N,3,8,8] -> Conv(4 filters 3x3, pad 1) -> Relu -> MaxPool 2x2 -> Flatten -> MatMul[64,5] -> y."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
            helper.make_node("MatMul", ["f", "m"], ["y"], name="dense"),
        ],
        "conv_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [
            numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
            numpy_helper.from_array(rng.standard_normal((64, 5)).astype(np.float32), "m"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onyx-tests")
    model.producer_version = "1.0"
    return model


def mlp_model() -> onnx.ModelProto:
    """x[N,16] -> MatMul -> Add -> Relu -> MatMul -> Add -> y[N,4] (nodes mm1 bias1 relu mm2 bias2)."""
    rng = np.random.default_rng(0)
    weights = {"w1": (16, 8), "b1": (8,), "w2": (8, 4), "b2": (4,)}
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
            helper.make_node("Add", ["h", "b1"], ["a"], name="bias1"),
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("MatMul", ["r", "w2"], ["m"], name="mm2"),
            helper.make_node("Add", ["m", "b2"], ["y"], name="bias2"),
        ],
        "mlp_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
