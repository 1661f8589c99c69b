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
