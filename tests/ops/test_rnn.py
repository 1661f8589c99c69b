"""RNN, GRU and LSTM on their specialised loops (default activations) with initializer weights, against onnxruntime.

W, R and B are initializers, so each node prepares them once (the second run reuses them).
"""

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import onyx
from oracle import assert_outputs_match, run_both, run_onnxruntime

RNG = np.random.default_rng(1)
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _model(op_type, direction, seq, batch, inp, hidden, with_states, full_lens, **attrs):
    """One-node model: X (and the initial states) as graph inputs, W, R, B as initializers."""
    num_dir = 2 if direction == "bidirectional" else 1
    g = GATES[op_type]
    weights = {
        "W": RNG.standard_normal((num_dir, g * hidden, inp)).astype(np.float32) * 0.5,
        "R": RNG.standard_normal((num_dir, g * hidden, hidden)).astype(np.float32) * 0.5,
        "B": RNG.standard_normal((num_dir, 2 * g * hidden)).astype(np.float32),
    }
    feeds = {"X": RNG.standard_normal((seq, batch, inp)).astype(np.float32)}
    node_inputs = ["X", "W", "R", "B", ""]
    if full_lens:
        weights["sequence_lens"] = np.full(batch, seq, dtype=np.int32)
        node_inputs[4] = "sequence_lens"
    states = ["initial_h", "initial_c"][: 2 if op_type == "LSTM" else 1]
    if with_states:
        for name in states:
            feeds[name] = RNG.standard_normal((num_dir, batch, hidden)).astype(np.float32)
        node_inputs += states
    outputs = ["Y", "Y_h", "Y_c"][: 3 if op_type == "LSTM" else 2]
    node = helper.make_node(op_type, node_inputs, outputs, hidden_size=hidden, direction=direction, **attrs)
    graph = helper.make_graph(
        [node], op_type.lower(),
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, 1, None) for n in outputs],
        [numpy_helper.from_array(a, n) for n, a in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return model.SerializeToString(), feeds


CASES = [("RNN", {}), ("GRU", {"linear_before_reset": 0}), ("GRU", {"linear_before_reset": 1}), ("LSTM", {})]


@pytest.mark.parametrize("op_type, attrs", CASES)
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("with_states, full_lens", [(False, False), (True, True)])
def test_default_activations_match_onnxruntime(op_type, attrs, direction, with_states, full_lens):
    model, feeds = _model(op_type, direction, 7, 3, 5, 6, with_states, full_lens, **attrs)
    expected = run_onnxruntime(model, feeds)
    session = onyx.InferenceSession(model)
    for _ in range(2):
        assert_outputs_match(session.run(None, feeds), expected, rtol=1e-4, atol=1e-5, exact=False)


def test_sessions_with_different_weights_stay_apart():
    """Each session's weights are prepared from its own initializers."""
    (m1, feeds), (m2, _) = (_model("LSTM", "forward", 4, 1, 3, 5, False, False) for _ in range(2))
    for model in (m1, m2, m1):
        actual, expected = run_both(model, feeds)
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)


def test_constant_weights_are_prepared_once_per_node_and_fed_ones_every_run(monkeypatch):
    from onyx.ops import rnn

    built = []
    original = rnn._build_weights
    monkeypatch.setattr(rnn, "_build_weights", lambda *args: built.append(1) or original(*args))
    model, feeds = _model("GRU", "forward", 4, 2, 3, 5, False, False)
    session = onyx.InferenceSession(model)
    expected = run_onnxruntime(model, feeds)
    for _ in range(3):
        assert_outputs_match(session.run(None, feeds), expected, rtol=1e-4, atol=1e-5, exact=False)
    assert len(built) == 1
    fed = onnx.load_from_string(model)
    fed.graph.input.extend(helper.make_tensor_value_info(i.name, i.data_type, i.dims) for i in fed.graph.initializer)
    session = onyx.InferenceSession(fed.SerializeToString())
    for _ in range(2):
        assert_outputs_match(session.run(None, feeds), expected, rtol=1e-4, atol=1e-5, exact=False)
    assert len(built) == 3
