"""The plan's generated straight-line code (onyx.runtime.straight_line) computes what the step
walker computes, frees what it frees, and fails as it fails."""

import gc
import weakref

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.errors import KernelError
from onyx.runtime import straight_line


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None)
                                                    for n in outputs], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _session(model):
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onyx.InferenceSession(model, options)


def _walked(session, feeds):
    """The outputs of the step walker (an observer sends a run there)."""
    return session._plan.run([feeds[n] for n in session._plan.input_names], observer=lambda *args: None)


MIXED = _model(
    [helper.make_node("Split", ["x"], ["a", "b"], axis=1),  # several outputs
     helper.make_node("TopK", ["a", "k"], ["", "idx"]),  # an output nobody names
     helper.make_node("Add", ["a", "b"], ["s"]),
     helper.make_node("Mul", ["s", "s"], ["sq"]),  # in place: s is last read here
     helper.make_node("ReduceSum", ["sq"], ["total"], keepdims=0),  # a NumPy scalar becomes a 0-d array
     helper.make_node("Identity", ["x"], ["x_again"]),
     helper.make_node("Greater", ["total", "zero"], ["positive"]),
     helper.make_node("If", ["positive"], ["picked"],
                      then_branch=helper.make_graph([helper.make_node("Neg", ["sq"], ["n"])], "then", [],
                                                    [helper.make_tensor_value_info("n", TensorProto.FLOAT, None)]),
                      else_branch=helper.make_graph([helper.make_node("Abs", ["sq"], ["m"])], "else", [],
                                                    [helper.make_tensor_value_info("m", TensorProto.FLOAT, None)]))],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
    ["idx", "total", "x_again", "picked", "zero"],
    [numpy_helper.from_array(np.array([1], np.int64), "k"), numpy_helper.from_array(np.float32(0), "zero")],
)


def test_generated_code_matches_the_step_walker():
    session = _session(MIXED)
    feeds = {"x": np.arange(12, dtype=np.float32).reshape(3, 4) - 5}
    ours = session.run(None, feeds)
    assert session._plan._straight_line is not None  # the run took the generated code
    walked = _walked(session, feeds)
    assert [type(v) for v in ours] == [np.ndarray] * 5
    for a, b in zip(ours, walked):
        np.testing.assert_array_equal(a, b)
    assert ours[1].shape == () and ours[1].dtype == np.float32


def test_a_session_walks_its_first_runs_and_then_runs_generated_code(monkeypatch):
    monkeypatch.setattr(straight_line, "COMPILE_AFTER_RUNS", 2)  # the default (the tests set 0)
    session = _session(MIXED)
    feeds = {"x": np.ones((3, 4), np.float32)}
    first = session.run(None, feeds)
    session.run(None, feeds)
    assert session._plan._straight_line is None
    third = session.run(None, feeds)
    assert session._plan._straight_line is not None
    for a, b in zip(first, third):
        np.testing.assert_array_equal(a, b)


def test_a_plan_of_many_steps_is_always_walked(monkeypatch):
    monkeypatch.setattr(straight_line, "MAX_COMPILED_STEPS", 3)
    session = _session(MIXED)
    session.run(None, {"x": np.ones((3, 4), np.float32)})
    assert session._plan._straight_line is None


def test_an_empty_plan_compiles():
    model = _model([], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], ["x"])
    session = _session(model)
    np.testing.assert_array_equal(session.run(None, {"x": np.ones(2, np.float32)})[0], 1)
    assert session._plan._straight_line is not None


def test_the_generated_source_reads_as_the_steps():
    session = _session(MIXED)
    plan = session._plan
    source = straight_line.source(plan)
    assert source.startswith("def run(inputs, outer, control):")
    assert source.count("_i = ") == len(plan.steps)
    assert "in_place.donor" in source  # the Mul may write into s


def test_a_copy_of_a_plan_with_other_steps_does_not_run_the_original_code():
    """onyx.runtime.placement copies a plan and changes its steps: the copy makes its own code."""
    import copy

    session = _session(MIXED)
    feeds = {"x": np.ones((3, 4), np.float32)}
    session.run(None, feeds)
    placed = copy.copy(session._plan)
    placed.steps = list(placed.steps)
    outputs = placed.run([feeds["x"]])
    assert placed._straight_line[0] is placed.steps and session._plan._straight_line[0] is session._plan.steps
    for a, b in zip(outputs, session.run(None, feeds)):
        np.testing.assert_array_equal(a, b)


def test_intermediates_are_freed_after_their_last_reader():
    """A value nobody reads after a step is gone before the next step runs."""
    seen = []

    def watch(x):
        seen.append(weakref.ref(x))
        return x + 1

    def check(y):
        gc.collect()
        seen.append(seen[0]() is None)
        return y * 2

    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["n"]),
                    helper.make_node("Abs", ["n"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], ["y"])
    session = _session(model)
    steps = session._plan.steps
    steps[1].fn, steps[2].fn = watch, check  # r is made by step 0 and last read by step 1
    session.run(None, {"x": np.ones(2, np.float32)})
    assert seen[1] is True


def test_a_failing_step_is_named_in_the_error():
    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"], name="negate")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], ["y"])
    session = _session(model)
    session._plan.steps[1].fn = lambda v: 1 / 0
    with pytest.raises(KernelError, match=r'"negate".*ZeroDivisionError') as caught:
        session.run(None, {"x": np.ones(2, np.float32)})
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
