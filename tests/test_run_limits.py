"""Stopping runs: RunOptions.terminate, the run time limit and the memory budget
(onyx.runtime.control), on generated models that would otherwise run for minutes or forever."""

import threading
import time

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx import MemoryLimitExceeded, RunTerminated, RunTimeLimitExceeded

TIME_LIMIT = "session.onyx.run_time_limit_ms"
MEMORY_LIMIT = "session.onyx.memory_limit_bytes"


def _model(nodes, inputs, outputs, initializers=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def endless_loop_model(trip_count: int = 10**12) -> bytes:
    """A Loop of ``trip_count`` iterations adding 1 to a counter: forever, for practical purposes."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["x_in", "one"], ["x_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [1])],
    )
    inits = [numpy_helper.from_array(np.array(trip_count, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "cond"),
             numpy_helper.from_array(np.ones(1, np.float32), "one")]
    return _model([helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], inits)


def expand_reduce_model(side: int = 10**6) -> bytes:
    """Expand a scalar to [side, side] and sum it: a broadcast view the sum would walk for minutes."""
    inits = [numpy_helper.from_array(np.array([side, side], np.int64), "shape")]
    return _model([helper.make_node("Expand", ["x", "shape"], ["big"], name="blow_up"),
                   helper.make_node("ReduceSum", ["big"], ["y"], keepdims=0)],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], inits)


def relu_model() -> bytes:
    return _model([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])


def session(model: bytes, **config: str) -> onyx.InferenceSession:
    options = onyx.SessionOptions()
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    return onyx.InferenceSession(model, options)


X1 = {"x": np.zeros(1, np.float32)}


# -- RunOptions.terminate ---------------------------------------------------------------------


def test_terminate_set_before_a_run_fails_it_with_onnxruntimes_message():
    sess = onyx.InferenceSession(relu_model())
    options = onyx.RunOptions()
    options.terminate = True
    with pytest.raises(RunTerminated, match="Exiting due to terminate flag being set to true"):
        sess.run(None, {"x": np.ones(2, np.float32)}, options)
    options.terminate = False
    assert sess.run(None, {"x": np.ones(2, np.float32)}, options)[0].tolist() == [1, 1]


def test_limit_errors_are_caught_where_onnxruntimes_would_be():
    """onnxruntime 1.32 raises Fail both for a terminated run and for Expand to [10^6, 10^6]."""
    from onyx.capi.onnxruntime_pybind11_state import Fail

    for error in (RunTerminated, RunTimeLimitExceeded, MemoryLimitExceeded):
        assert issubclass(error, onyx.OnyxError) and issubclass(error, Fail) and issubclass(error, RuntimeError)
    assert issubclass(RunTimeLimitExceeded, RunTerminated) and issubclass(MemoryLimitExceeded, MemoryError)


def _terminate_soon(options: onyx.RunOptions, delay: float = 0.2) -> threading.Timer:
    def stop():
        options.terminate = True

    timer = threading.Timer(delay, stop)
    timer.start()
    return timer


def test_terminate_from_another_thread_stops_a_loop_of_a_trillion_iterations():
    sess = onyx.InferenceSession(endless_loop_model())
    options = onyx.RunOptions()
    timer = _terminate_soon(options)
    started = time.perf_counter()
    with pytest.raises(RunTerminated, match="terminate flag"):
        sess.run(None, X1, options)
    timer.join()
    assert time.perf_counter() - started < 60  # it stopped (a generous bound: the loop is endless)


def scan_model(steps: int) -> bytes:
    """A Scan summing ``steps`` rows one at a time."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "row"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["echo"])],
        "body",
        [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("row", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("echo", TensorProto.FLOAT, [1])],
    )
    return _model([helper.make_node("Scan", ["s", "rows"], ["total", "partials"], body=body, num_scan_inputs=1)],
                  [helper.make_tensor_value_info("s", TensorProto.FLOAT, [1]),
                   helper.make_tensor_value_info("rows", TensorProto.FLOAT, [steps, 1])],
                  [helper.make_tensor_value_info("total", TensorProto.FLOAT, [1]),
                   helper.make_tensor_value_info("partials", TensorProto.FLOAT, [steps, 1])])


def lstm_model(steps: int, hidden: int = 4) -> bytes:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((1, 4 * hidden, 2)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((1, 4 * hidden, hidden)).astype(np.float32), "R")]
    return _model([helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=hidden)],
                  [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, 1, 2])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, 1, 1, hidden])], inits)


@pytest.mark.parametrize("kernel", ["Scan", "LSTM"])
def test_terminate_stops_long_kernels_between_their_steps(kernel, monkeypatch):
    """The flag is seen inside the kernel's loop: set at its second per-iteration check (the
    first check is the session's, before the run), the kernel stops right there instead of
    running all 10,000 steps."""
    from onyx.runtime import control

    steps, calls = 10_000, []
    if kernel == "Scan":
        sess, feeds = onyx.InferenceSession(scan_model(steps)), {
            "s": np.zeros(1, np.float32), "rows": np.ones((steps, 1), np.float32)}
    else:
        sess, feeds = onyx.InferenceSession(lstm_model(steps)), {"X": np.ones((steps, 1, 2), np.float32)}
    options = onyx.RunOptions()
    real_check = control.RunControl.check

    def counting_check(self, node=None):
        if node is None:  # a kernel's per-iteration check (nodes are named between nodes)
            calls.append(1)
            if len(calls) == 3:
                options.terminate = True
        real_check(self, node)

    monkeypatch.setattr(control.RunControl, "check", counting_check)
    with pytest.raises(RunTerminated):
        sess.run(None, feeds, options)
    assert len(calls) == 3


# -- run time limit ---------------------------------------------------------------------------


def test_time_limit_stops_an_endless_loop_and_names_the_limit():
    sess = session(endless_loop_model(), **{TIME_LIMIT: "100"})
    started = time.perf_counter()
    with pytest.raises(RunTimeLimitExceeded, match=r"time limit of 100 ms \(session.onyx.run_time_limit_ms\)"):
        sess.run(None, X1)
    assert time.perf_counter() - started < 60


def test_a_run_config_entry_sets_the_time_limit_of_one_run():
    sess = onyx.InferenceSession(endless_loop_model(trip_count=3))
    assert sess.run(None, X1)[0].tolist() == [3]
    endless = onyx.InferenceSession(endless_loop_model())
    options = onyx.RunOptions()
    options.add_run_config_entry(TIME_LIMIT, "50")
    with pytest.raises(RunTimeLimitExceeded):
        endless.run(None, X1, options)


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_bad_limit_values_are_refused_at_session_creation(value):
    for key in (TIME_LIMIT, MEMORY_LIMIT):
        with pytest.raises(onyx.InvalidArgument, match=key):
            session(relu_model(), **{key: value})


# -- memory budget ----------------------------------------------------------------------------


def test_expand_to_a_trillion_elements_fails_at_once_by_default_naming_node_and_size():
    sess = onyx.InferenceSession(expand_reduce_model())
    with pytest.raises(MemoryLimitExceeded, match=r"blow_up.*\[1000000, 1000000\] \(3\.6 TiB\)"):
        sess.run(None, X1)


def test_expand_within_the_default_budget_still_runs():
    (y,) = onyx.InferenceSession(expand_reduce_model(side=100)).run(None, {"x": np.ones(1, np.float32)})
    assert y == 10_000


def test_an_explicit_budget_refuses_smaller_values_and_zero_lifts_it():
    model = expand_reduce_model(side=1000)  # 4 MB as a view
    with pytest.raises(MemoryLimitExceeded, match=r"\[1000, 1000\] \(3\.8 MiB\).*memory limit of 1\.0 MiB"):
        session(model, **{MEMORY_LIMIT: str(2**20)}).run(None, X1)
    assert session(model, **{MEMORY_LIMIT: "0"}).run(None, {"x": np.ones(1, np.float32)})[0] == 10**6


def test_an_explicit_budget_checks_broadcasting_nodes_before_they_allocate():
    model = _model([helper.make_node("Add", ["a", "b"], ["y"], name="outer_sum")],
                   [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1]),
                    helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, None])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])])
    sess = session(model, **{MEMORY_LIMIT: str(10**6)})
    a, b = np.ones((1000, 1), np.float32), np.ones((1, 1000), np.float32)
    with pytest.raises(MemoryLimitExceeded, match=r"outer_sum.*\[1000, 1000\]"):
        sess.run(None, {"a": a, "b": b})
    assert sess.run(None, {"a": a[:100], "b": b[:, :100]})[0].shape == (100, 100)


@pytest.mark.parametrize("op", ["ConstantOfShape", "Tile", "Range"])
def test_allocating_kernels_check_the_budget_before_allocating(op):
    if op == "ConstantOfShape":
        inits, node = [numpy_helper.from_array(np.array([10**7, 10**7], np.int64), "s")], \
            helper.make_node("ConstantOfShape", ["s"], ["big"], name="make")
    elif op == "Tile":
        inits, node = [numpy_helper.from_array(np.array([10**13], np.int64), "s")], \
            helper.make_node("Tile", ["x", "s"], ["big"], name="make")
    else:
        inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
                 (("start", 0), ("limit", 1e13), ("delta", 1))]
        node = helper.make_node("Range", ["start", "limit", "delta"], ["big"], name="make")
    model = _model([node, helper.make_node("ReduceSum", ["big"], ["y"], keepdims=0)],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], inits)
    with pytest.raises(MemoryLimitExceeded, match="make"):
        onyx.InferenceSession(model, _unoptimized()).run(None, X1)


def _unoptimized() -> onyx.SessionOptions:
    """Options that keep constant folding from computing the node at session creation."""
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def test_a_value_numpy_cannot_allocate_is_a_memory_limit_error_naming_the_node():
    sess = onyx.InferenceSession(relu_model())

    def out_of_memory(*args):
        raise MemoryError("Unable to allocate 3.64 TiB for an array with shape (1000000, 1000000)")

    sess._plan.steps[0].fn = out_of_memory  # what NumPy raises when the machine cannot hold a value
    with pytest.raises(MemoryLimitExceeded, match=r"Relu.* ran out of memory: Unable to allocate 3.64 TiB"):
        sess.run(None, {"x": np.ones(2, np.float32)})
