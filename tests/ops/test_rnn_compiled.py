"""RNN, GRU and LSTM on the compiled loops ([fast]) against the NumPy loops, the ONNX reference
implementation (every attribute the spec has) and onnxruntime (the cases it runs)."""

import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import onyx
from onyx.ops import rnn
from onyx.ops.registry import NodeContext
from oracle import readonly_feeds, run_onnxruntime

pytest.importorskip("numba")

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
HIDDEN, INPUT, SEQ, BATCH = 5, 4, 6, 3


def _model(op_type: str, direction: str, layout: int = 0, lens: list[int] | None = None, peepholes: bool = False,
           states: bool = True, **attrs) -> tuple[bytes, dict[str, np.ndarray]]:
    """One node with W, R, B (and P) as initializers, X, sequence_lens and the initial states fed."""
    rng = np.random.default_rng(7)
    num_dir = 2 if direction == "bidirectional" else 1
    g = GATES[op_type]
    inits = {"W": rng.standard_normal((num_dir, g * HIDDEN, INPUT)), "R": rng.standard_normal((num_dir, g * HIDDEN, HIDDEN)),
             "B": rng.standard_normal((num_dir, 2 * g * HIDDEN))}
    if peepholes:
        inits["P"] = rng.standard_normal((num_dir, 3 * HIDDEN))
    inits = {k: (v * 0.6).astype(np.float32) for k, v in inits.items()}
    x_shape = (BATCH, SEQ, INPUT) if layout else (SEQ, BATCH, INPUT)
    state_shape = (BATCH, num_dir, HIDDEN) if layout else (num_dir, BATCH, HIDDEN)
    feeds = {"X": rng.standard_normal(x_shape).astype(np.float32)}
    inputs = ["X", "W", "R", "B", "", "", ""]
    if lens is not None:
        feeds["sequence_lens"] = np.array(lens, dtype=np.int32)
        inputs[4] = "sequence_lens"
    state_names = ["initial_h", "initial_c"][: 2 if op_type == "LSTM" else 1]
    if states:
        for i, name in enumerate(state_names):
            feeds[name] = rng.standard_normal(state_shape).astype(np.float32)
            inputs[5 + i] = name
    if peepholes:
        inputs.append("P")
    while inputs[-1] == "":
        inputs.pop()
    outputs = ["Y", "Y_h", "Y_c"][: 3 if op_type == "LSTM" else 2]
    node = helper.make_node(op_type, inputs, outputs, hidden_size=HIDDEN, direction=direction, layout=layout, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, 1, None) for n in outputs],
        [numpy_helper.from_array(a, n) for n, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model.SerializeToString(), feeds


def _onyx(model: bytes, feeds: dict, compiled: bool) -> list[np.ndarray]:
    options = onyx.SessionOptions()
    options.add_session_config_entry("session.onyx.compiled_kernels", "1" if compiled else "0")
    session = onyx.InferenceSession(model, options)
    return session.run(None, feeds)


def _check(model: bytes, feeds: dict, oracle) -> None:
    """Compiled loops == NumPy loops == ``oracle(model, feeds)``."""
    compiled, numpy_loops = _onyx(model, feeds, True), _onyx(model, feeds, False)
    for got, loop, want in zip(compiled, numpy_loops, oracle(model, feeds), strict=True):
        np.testing.assert_allclose(got, loop, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def reference(model: bytes, feeds: dict) -> list[np.ndarray]:
    """The ONNX reference implementation (which ignores sequence_lens)."""
    return ReferenceEvaluator(model).run(None, feeds)


CELLS = [("RNN", {}), ("GRU", {"linear_before_reset": 0}), ("GRU", {"linear_before_reset": 1}), ("LSTM", {})]


@pytest.mark.parametrize("op_type, attrs", CELLS)
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_default_cells_with_short_sequences(op_type, attrs, direction):
    model, feeds = _model(op_type, direction, lens=[SEQ, 2, 4], **attrs)
    _check(model, feeds, run_onnxruntime)


@pytest.mark.parametrize("op_type, attrs", CELLS)
def test_batch_major_layout_without_initial_states(op_type, attrs):
    model, feeds = _model(op_type, "bidirectional", layout=1, states=False, clip=50.0, **attrs)  # clip: compiled
    _check(model, feeds, reference)  # onnxruntime's CPU kernels take layout 0 only


ACTIVATIONS = {
    "RNN": {"activations": ["LeakyRelu", "ScaledTanh"], "activation_alpha": [0.2, 1.5],
            "activation_beta": [0.7]},
    "GRU": {"activations": ["HardSigmoid", "Softsign", "Affine", "Elu"], "activation_alpha": [0.3, 0.8, 0.5],
            "activation_beta": [0.4, 0.1]},
    "LSTM": {"activations": ["Sigmoid", "Softplus", "Relu", "HardSigmoid", "ThresholdedRelu", "Tanh"],
             "activation_alpha": [0.25, 0.3], "activation_beta": [0.6]},
}


@pytest.mark.parametrize("op_type", ["RNN", "GRU", "LSTM"])
def test_other_activations_and_clip(op_type):
    model, feeds = _model(op_type, "bidirectional", lens=[3, SEQ, 1], clip=1.5, **ACTIVATIONS[op_type])
    _check(model, feeds, run_onnxruntime)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_peepholes_and_coupled_input_forget_gates(direction):
    model, feeds = _model("LSTM", direction, lens=[2, SEQ, 5], peepholes=True, input_forget=1, clip=2.0)
    _check(model, feeds, run_onnxruntime)


def test_weights_are_prepared_once_per_node_at_session_creation(monkeypatch):
    built = []
    original = rnn._build_weights
    monkeypatch.setattr(rnn, "_build_weights", lambda *args: built.append(1) or original(*args))
    model, feeds = _model("LSTM", "forward")
    session = onyx.InferenceSession(model)
    assert len(built) == 1
    for _ in range(3):
        session.run(None, feeds)
    assert len(built) == 1


@pytest.mark.parametrize("direction, batch", [("forward", 1), ("reverse", 2), ("bidirectional", 1),
                                              ("bidirectional", 3)])  # the last: Y's steps not contiguous
def test_wide_default_cells_run_blas_products_and_compiled_steps(monkeypatch, direction, batch):
    import test_rnn_compiled as here

    monkeypatch.setattr(here, "HIDDEN", rnn.NUMPY_LSTM_MIN_HIDDEN)
    monkeypatch.setattr(here, "BATCH", batch)
    model, feeds = _model("LSTM", direction)
    _check(model, feeds, run_onnxruntime)


@pytest.mark.parametrize("compiled, name", [(True, "numba:gru"), (False, None)])
def test_the_prepared_callable_names_its_kernel(compiled, name):
    run = rnn.gru(hidden_size=HIDDEN, _node=NodeContext(compiled=compiled))
    assert getattr(run, "kernel_name", None) == name
    narrow = rnn.lstm(hidden_size=HIDDEN, _node=NodeContext(compiled=compiled))
    assert getattr(narrow, "kernel_name", None) == (name and "numba:lstm")
    wide = rnn.lstm(hidden_size=rnn.NUMPY_LSTM_MIN_HIDDEN, _node=NodeContext(compiled=compiled))
    assert getattr(wide, "kernel_name", None) == (name and "numba:lstm-cell")  # BLAS products, compiled steps
    clipped = rnn.lstm(hidden_size=rnn.NUMPY_LSTM_MIN_HIDDEN, clip=3.0, _node=NodeContext(compiled=compiled))
    assert getattr(clipped, "kernel_name", None) == (name and "numba:lstm")


def test_read_only_feeds():
    model, feeds = _model("LSTM", "bidirectional", lens=[SEQ, 3, 1])
    expected = run_onnxruntime(model, feeds)
    for got, want in zip(onyx.InferenceSession(model).run(None, readonly_feeds(feeds)), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
