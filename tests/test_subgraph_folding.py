"""Folding inside subgraphs and Ifs with constant conditions (onyx.optimizer.control_flow), on the
committed If-heavy fixture (tests/fixtures/make_if_heavy.py) and small graphs."""

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.model.loader import load_model
from onyx.model.topology import subgraphs_of
from onyx.optimizer import optimize

IF_HEAVY = Path(__file__).parent / "fixtures" / "if_heavy.onnx"
LEVELS = [onyx.GraphOptimizationLevel.ORT_DISABLE_ALL, onyx.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          onyx.GraphOptimizationLevel.ORT_ENABLE_ALL]


def _count(graph, op_type: str) -> int:
    """Nodes of ``op_type`` in ``graph`` and every graph nested in it."""
    return sum((node.op_type == op_type) + sum(_count(g, op_type) for g in subgraphs_of(node)) for node in graph.nodes)


def _session(model, level):
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    return onyx.InferenceSession(model, options)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("rate", [16000, 8000])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_if_heavy_fixture_matches_onnxruntime(level, rate, batch):
    feeds = {"x": np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32),
             "sr": np.array(rate, np.int64)}
    (expected,) = onnxruntime.InferenceSession(str(IF_HEAVY), providers=["CPUExecutionProvider"]).run(None, feeds)
    (ours,) = _session(str(IF_HEAVY), level).run(None, feeds)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_ifs_whose_condition_folds_are_replaced_by_their_branch():
    model = load_model(str(IF_HEAVY))
    optimized, _ = optimize(model, onyx.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    assert _count(model.graph, "If") == 7
    # left: the If on the fed sample rate and, in each branch, the If on the free batch size
    assert _count(optimized.graph, "If") == 3
    assert _count(optimized.graph, "Constant") == 0  # Constant nodes inside subgraphs are folded too
    assert _count(model.graph, "If") == 7  # the input model is not modified


def _if_model(cond_nodes, then_value: float, else_value: float, extra_inputs=()):
    """y = x + (then_value if cond else else_value), the condition computed by ``cond_nodes``."""
    def branch(name, value):
        return helper.make_graph(
            [helper.make_node("Constant", [], [f"{name}_c"], value=numpy_helper.from_array(np.float32(value))),
             helper.make_node("Add", ["x", f"{name}_c"], [f"{name}_y"])],
            name, [], [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)])

    graph = helper.make_graph(
        cond_nodes + [helper.make_node("If", ["cond"], ["y"], then_branch=branch("yes", then_value),
                                       else_branch=branch("no", else_value))],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4]), *extra_inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_an_if_on_a_known_dim_of_a_partly_known_shape_folds():
    """Gather(Shape(x), 1) is 4 although x's first dim is free: the condition is a constant."""
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.int64(1))),
             helper.make_node("Gather", ["shape", "one"], ["dim"]),
             helper.make_node("Constant", [], ["four"], value=numpy_helper.from_array(np.int64(4))),
             helper.make_node("Equal", ["dim", "four"], ["cond"])]
    session = _session(_if_model(nodes, 1.0, -1.0), onyx.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    assert [s.node.op_type for s in session._plan.steps] == ["Add"]
    np.testing.assert_array_equal(session.run(None, {"x": np.zeros((2, 4), np.float32)})[0], 1)


def test_an_if_on_the_free_dim_or_a_feed_stays():
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.int64(0))),
             helper.make_node("Gather", ["shape", "zero"], ["dim"]),
             helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.int64(2))),
             helper.make_node("Equal", ["dim", "two"], ["cond"])]
    session = _session(_if_model(nodes, 1.0, -1.0), onyx.GraphOptimizationLevel.ORT_ENABLE_ALL)
    assert "If" in [s.node.op_type for s in session._plan.steps]
    assert session.run(None, {"x": np.zeros((2, 4), np.float32)})[0][0, 0] == 1
    assert session.run(None, {"x": np.zeros((3, 4), np.float32)})[0][0, 0] == -1
    fed = _session(_if_model([], 1.0, -1.0, [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])]),
                   onyx.GraphOptimizationLevel.ORT_ENABLE_ALL)
    assert fed.run(None, {"x": np.zeros((1, 4), np.float32), "cond": np.array(False)})[0][0, 0] == -1


def test_a_branch_whose_names_are_used_elsewhere_is_not_inlined():
    """Both Ifs' branches define 'yes_c' and 'yes_y': moving one into the main graph would make
    the other shadow it, so neither moves, and both still compute their own values."""
    def branch(name, value):
        return helper.make_graph(
            [helper.make_node("Constant", [], ["yes_c"], value=numpy_helper.from_array(np.float32(value))),
             helper.make_node("Add", ["x", "yes_c"], ["yes_y"])],
            name, [], [helper.make_tensor_value_info("yes_y", TensorProto.FLOAT, None)])

    true = helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True)))
    nodes = [true,
             helper.make_node("If", ["cond"], ["a"], then_branch=branch("t1", 1.0), else_branch=branch("e1", 0.0)),
             helper.make_node("If", ["cond"], ["b"], then_branch=branch("t2", 2.0), else_branch=branch("e2", 0.0))]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("a", "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    session = _session(model, onyx.GraphOptimizationLevel.ORT_ENABLE_ALL)
    a, b = session.run(None, {"x": np.zeros(4, np.float32)})
    np.testing.assert_array_equal(a, 1)
    np.testing.assert_array_equal(b, 2)
