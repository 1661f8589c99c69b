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
