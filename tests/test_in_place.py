"""Elementwise steps that take over an input's buffer (onyx.runtime.in_place)."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from onyx.runtime import in_place


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializer=list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture
def donations(monkeypatch):
    """How many steps wrote into an input's buffer."""
    taken = []
    original = in_place.donor

    def counting(args, positions):
        out = original(args, positions)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(in_place, "donor", counting)
    return taken


def _session(model):
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onyx.InferenceSession(model, options)


def test_a_chain_of_elementwise_steps_reuses_one_buffer(donations):
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    model = _model(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "one"], ["a"]),
         helper.make_node("Mul", ["a", "a"], ["m"]), helper.make_node("Sub", ["one", "m"], ["y"])],
        [("x", [3, 4])], ["y"], [one])
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    keep = x.copy()
    (y,) = _session(model).run(None, {"x": x})
    np.testing.assert_allclose(y, 1 - (np.maximum(keep, 0) + 1) ** 2, rtol=1e-6)
    np.testing.assert_array_equal(x, keep)  # the feed is never written
    assert donations == [True, True, True]


def test_feeds_and_initializers_are_never_taken(donations):
    w = helper.make_tensor("w", TensorProto.FLOAT, [4], [1, 2, 3, 4])
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])], [("x", [2, 4])], ["y"], [w])
    x = np.ones((2, 4), np.float32)
    (y,) = _session(model).run(None, {"x": x})
    np.testing.assert_array_equal(y, x + [1, 2, 3, 4])
    np.testing.assert_array_equal(x, 1)
    assert donations == []  # neither input is a step's value: no donation is even considered


def test_a_value_that_another_live_value_views_is_not_overwritten(donations):
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [12])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    model = _model(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Reshape", ["r", "shape"], ["flat"]),  # a view of r
         helper.make_node("Add", ["r", "one"], ["a"]),  # r's last reader
         helper.make_node("Mul", ["flat", "flat"], ["sq"])],
        [("x", [3, 4])], ["a", "sq"], [shape, one])
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    a, sq = _session(model).run(None, {"x": x})
    r = np.maximum(x, 0)
    np.testing.assert_allclose(a, r + 1)
    np.testing.assert_allclose(sq, (r * r).reshape(12))
    assert donations[0] is False


def test_intermediates_kept_by_an_observer_are_not_overwritten():
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "one"], ["y"])],
                   [("x", [2, 2])], ["y"], [one])
    x = np.array([[-1, 2], [3, -4]], np.float32)
    _, values = _session(model).run_with_intermediates(None, {"x": x})
    np.testing.assert_array_equal(values["r"], np.maximum(x, 0))
    np.testing.assert_array_equal(values["y"], np.maximum(x, 0) + 1)


def test_integer_and_broadcast_growing_steps_use_the_kernel(donations):
    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Relu", ["z"], ["s"]),
                    helper.make_node("Add", ["r", "s"], ["y"])], [("x", [1, 3]), ("z", [2, 1])], ["y"])
    (y,) = _session(model).run(None, {"x": np.ones((1, 3), np.float32), "z": np.ones((2, 1), np.float32)})
    np.testing.assert_array_equal(y, np.full((2, 3), 2, np.float32))
    assert donations == [False]  # the result is larger than either input
