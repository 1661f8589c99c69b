"""The IR saves back to a valid ONNX model that gives the same results."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

import onyx
from onyx.model import load_model
from onyx.model.save import model_to_proto

DIGITS = Path(__file__).parent.parent / "examples" / "digits"


def test_round_trip_keeps_graph_metadata_and_results():
    model = load_model(DIGITS / "digits.onnx")
    proto = model_to_proto(model)
    onnx.checker.check_model(proto)
    assert proto.producer_name == "onyx-examples"
    assert {p.key: p.value for p in proto.metadata_props}["input_range"] == "0-16"
    x = np.load(DIGITS / "sample.npy")
    before = onyx.InferenceSession(str(DIGITS / "digits.onnx")).run(None, {"image": x})
    after = onyx.InferenceSession(proto).run(None, {"image": x})
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_round_trip_of_subgraphs_strings_and_empty_lists():
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["t"], value=onnx.numpy_helper.from_array(np.array(["yes"], dtype=object)))],
        "then", [], [helper.make_tensor_value_info("t", TensorProto.STRING, [1])])
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["e"], value_strings=["no"])],
        "else", [], [helper.make_tensor_value_info("e", TensorProto.STRING, [1])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph)],
        "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [1])])
    proto = model_to_proto(load_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])))
    onnx.checker.check_model(proto)
    branches = {a.name: a.g for a in proto.graph.node[0].attribute}
    assert branches["then_branch"].node[0].attribute[0].t.string_data == [b"yes"]
    assert branches["else_branch"].node[0].attribute[0].strings == [b"no"]


def test_round_trip_of_number_lists_keeps_their_types():
    """Float lists stay FLOATS even when every value is whole, int lists stay INTS."""
    node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml",
                            keys_int64s=list(range(1000)), values_floats=[float(i) for i in range(1000)])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT64, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)])
    proto = model_to_proto(load_model(model))
    onnx.checker.check_model(proto)
    saved = {a.name: a for a in proto.graph.node[0].attribute}
    assert saved["keys_int64s"].type == onnx.AttributeProto.INTS and list(saved["keys_int64s"].ints) == list(range(1000))
    assert saved["values_floats"].type == onnx.AttributeProto.FLOATS and saved["values_floats"].floats[999] == 999.0
    y = onyx.InferenceSession(proto).run(None, {"x": np.array([5, 999, 2000])})[0]
    np.testing.assert_array_equal(y, [5.0, 999.0, -0.0])
