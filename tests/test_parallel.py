"""ExecutionMode.ORT_PARALLEL: independent steps run side by side on inter_op_num_threads
threads, with the sequential executor's results."""

import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx as ort

rng = np.random.default_rng(0)
WEIGHTS = {name: rng.standard_normal(shape).astype(np.float32)
           for name, shape in (("w1", (4, 3, 1, 1)), ("w3", (4, 3, 3, 3)), ("wr", (14, 3, 1, 1)))}


def branches_model() -> bytes:
    """Four branches of one input (Inception's shape), concatenated, then a residual Add."""
    w1, w3, wr = (numpy_helper.from_array(value, name) for name, value in WEIGHTS.items())
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="one_by_one"),
        helper.make_node("Relu", ["a"], ["a_r"], name="relu"),
        helper.make_node("Conv", ["x", "w3"], ["b"], name="three_by_three", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["b"], ["b_s"], name="sigmoid"),
        helper.make_node("MaxPool", ["x"], ["c"], name="max_pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[1, 1]),
        helper.make_node("AveragePool", ["x"], ["d"], name="average_pool", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Concat", ["a_r", "b_s", "c", "d"], ["cat"], name="concat", axis=1),
        helper.make_node("Conv", ["x", "wr"], ["r"], name="residual"),
        helper.make_node("Add", ["cat", "r"], ["y"], name="add"),
    ]
    graph = helper.make_graph(nodes, "branches", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 14, 8, 8]),
                               helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [w1, w3, wr])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _session(mode, threads=0, level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
    options = ort.SessionOptions()
    options.execution_mode = mode
    options.inter_op_num_threads = threads
    options.graph_optimization_level = level
    return ort.InferenceSession(branches_model(), options)


X = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("level", [ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL])
def test_parallel_results_equal_sequential(level):
    sequential = _session(ort.ExecutionMode.ORT_SEQUENTIAL, level=level)
    parallel = _session(ort.ExecutionMode.ORT_PARALLEL, threads=3, level=level)
    for _ in range(3):
        for ours, theirs in zip(parallel.run(None, {"x": X}), sequential.run(None, {"x": X})):
            np.testing.assert_array_equal(ours, theirs)
    ours, seen = parallel.run_with_intermediates(None, {"x": X})
    theirs, expected = sequential.run_with_intermediates(None, {"x": X})
    assert set(seen) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(seen[name], expected[name])


def test_independent_branches_run_at_the_same_time():
    """Two branch steps wait for each other at a barrier: only concurrent steps get past it."""
    session = _session(ort.ExecutionMode.ORT_PARALLEL, threads=2)
    barrier = threading.Barrier(2, timeout=30)
    for step in session._plan.steps:
        if step.node.name in ("relu", "sigmoid"):
            kernel = step.fn
            step.fn = lambda v, kernel=kernel: barrier.wait() is not None and kernel(v)
    expected = _session(ort.ExecutionMode.ORT_SEQUENTIAL).run(None, {"x": X})
    for ours, theirs in zip(session.run(None, {"x": X}), expected):
        np.testing.assert_array_equal(ours, theirs)


def test_a_failing_step_raises_a_kernel_error_naming_it():
    session = _session(ort.ExecutionMode.ORT_PARALLEL, threads=2)
    for step in session._plan.steps:
        if step.node.name == "max_pool":
            step.fn = lambda v: 1 / 0
    with pytest.raises(ort.KernelError, match='"max_pool".*ZeroDivisionError'):
        session.run(None, {"x": X})
