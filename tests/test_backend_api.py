"""onyx.backend beyond what the backend suite drives: run_node, run_model, devices."""

import numpy as np
from onnx import helper

import onyx.backend
from models import add_model


def test_run_node_runs_a_single_node():
    node = helper.make_node("Add", ["x", "y"], ["z"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (z,) = onyx.backend.run_node(node, [x, x])
    np.testing.assert_array_equal(z, 2 * x)


def test_run_node_with_attributes_and_several_outputs():
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=1)
    x = np.array([[3, 1, 2], [0, 5, 4]], dtype=np.float32)
    values, indices = onyx.backend.run_node(node, [x, np.array([2], dtype=np.int64)])
    assert values.tolist() == [[3, 2], [5, 4]] and indices.tolist() == [[0, 2], [1, 2]]


def test_run_model_takes_a_list_or_a_dict():
    model = add_model()
    a = np.ones((2, 3), np.float32)
    assert onyx.backend.run_model(model, [a, a])[0].tolist() == (2 * a).tolist()
    assert onyx.backend.run_model(model, {"a": a, "b": a}).y.tolist() == (2 * a).tolist()


def test_devices():
    assert onyx.backend.supports_device("CPU")
    assert not onyx.backend.supports_device("CUDA")
    assert onyx.backend.is_compatible(add_model())
