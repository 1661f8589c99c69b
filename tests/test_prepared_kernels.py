"""Kernels prepared once per node: a preparing kernel turns a node's attributes into its
per-run callable at session creation (tree ensembles compiled, support vectors laid out)."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from onyx.ops.ml import trees

ML = "ai.onnx.ml"
TREE = {
    "nodes_treeids": [0, 0, 0], "nodes_nodeids": [0, 1, 2], "nodes_featureids": [0, 0, 0],
    "nodes_values": [0.5, 0.0, 0.0], "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF"],
    "nodes_truenodeids": [1, 0, 0], "nodes_falsenodeids": [2, 0, 0],
    "target_treeids": [0, 0], "target_nodeids": [1, 2], "target_ids": [0, 0], "target_weights": [-1.0, 1.0],
}


def regressor(n_nodes: int = 1, **attrs) -> bytes:
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], [f"Y{i}"], domain=ML, name=f"trees{i}", **attrs)
             for i in range(n_nodes)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
                              [helper.make_tensor_value_info(f"Y{i}", TensorProto.FLOAT, [None, 1])
                               for i in range(n_nodes)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid(ML, 3)])
    model.ir_version = 9
    return model.SerializeToString()


def test_a_forest_is_compiled_once_per_node_at_session_creation(monkeypatch):
    compiled = []
    original = trees._compile
    monkeypatch.setattr(trees, "_compile", lambda *args: compiled.append(1) or original(*args))
    session = onyx.InferenceSession(regressor(n_nodes=2, n_targets=1, **TREE))
    assert len(compiled) == 2
    for _ in range(3):
        y0, y1 = session.run(None, {"X": np.array([[0.2], [0.9]], np.float32)})
    np.testing.assert_array_equal(y0, [[-1.0], [1.0]])
    np.testing.assert_array_equal(y1, y0)
    assert len(compiled) == 2


def test_a_node_that_cannot_be_prepared_fails_at_creation_naming_it():
    with pytest.raises(onyx.InvalidGraph, match='"trees0".*n_targets'):
        onyx.InferenceSession(regressor(**TREE))


def _probe_model(fed_weight: bool) -> bytes:
    """x + w through a test-domain Probe node; w is an initializer, also a graph input when ``fed_weight``."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])]
    if fed_weight:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [2]))
    graph = helper.make_graph([helper.make_node("Probe", ["x", "w"], ["y"], domain="test.context")], "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
                              [helper.make_tensor("w", TensorProto.FLOAT, [2], [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.context", 1)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def probe_contexts(monkeypatch):
    """A preparing kernel Probe(x, w) = x + w that records the NodeContext it was prepared with."""
    from onyx.ops import registry

    contexts = []
    monkeypatch.setitem(registry._KERNELS, ("test.context", "Probe"), [])

    @registry.kernel("Probe", 1, domain="test.context", prepare=True)
    def probe(*, _node):
        contexts.append(_node)
        return lambda x, w: x + w

    return contexts


def test_a_preparing_kernel_sees_its_constant_inputs_and_their_types(probe_contexts):
    session = onyx.InferenceSession(_probe_model(fed_weight=False))
    (context,) = probe_contexts
    assert context.constant(0) is None  # a graph input
    np.testing.assert_array_equal(context.constant(1), [1, 2])
    assert context.input_types[0].tensor_type.elem_type == TensorProto.FLOAT
    np.testing.assert_array_equal(session.run(None, {"x": np.ones(2, np.float32)})[0], [2, 3])


def test_an_initializer_a_feed_can_override_is_not_a_constant(probe_contexts):
    onyx.InferenceSession(_probe_model(fed_weight=True))
    assert probe_contexts[0].constant(1) is None


def test_the_session_config_can_refuse_compiled_kernels(probe_contexts):
    options = onyx.SessionOptions()
    options.add_session_config_entry("session.onyx.compiled_kernels", "0")
    onyx.InferenceSession(_probe_model(fed_weight=False), options)
    assert probe_contexts[0].compiled is False
    options.add_session_config_entry("session.onyx.compiled_kernels", "yes")
    with pytest.raises(onyx.InvalidArgument, match="compiled_kernels"):
        onyx.InferenceSession(_probe_model(fed_weight=False), options)
