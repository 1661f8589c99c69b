"""LSTM, GRU, RNN and Attention against onnxruntime on small models built with onnx.helper."""

import numpy as np
import onnxruntime
import pytest

import onyx
from oracle import assert_outputs_match, elem_type, run_both, single_node_model

RNG = np.random.default_rng(0)


def _model(op_type, inputs, outputs, opset, **attrs):
    """One-node model; ``inputs`` maps names to arrays (None leaves an optional input empty).

    Outputs take the first input's element type; shape inference fills in their shapes.
    """
    out_type = elem_type(next(iter(inputs.values())).dtype)
    return single_node_model(op_type, inputs, outputs, opset=opset, graph_name=op_type.lower(), strict=True,
                             output_types=[(out_type, None)] * len(outputs), **attrs).SerializeToString()


def _run_both(model, feeds):
    return run_both(model, feeds)


def _assert_close(actual, expected, atol=1e-5):
    assert_outputs_match(actual, expected, rtol=1e-4, atol=atol, exact=False)


def _randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _lstm_inputs(seq, batch, inp, hidden, num_dir, lens):
    return {
        "X": _randn(seq, batch, inp),
        "W": _randn(num_dir, 4 * hidden, inp),
        "R": _randn(num_dir, 4 * hidden, hidden),
        "B": _randn(num_dir, 8 * hidden),
        "sequence_lens": None if lens is None else np.array(lens, dtype=np.int32),
        "initial_h": _randn(num_dir, batch, hidden),
        "initial_c": _randn(num_dir, batch, hidden),
        "P": _randn(num_dir, 3 * hidden),
    }


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("lens", [None, [5, 2, 3]])
def test_lstm_directions_and_sequence_lens(direction, lens):
    num_dir = 2 if direction == "bidirectional" else 1
    inputs = _lstm_inputs(5, 3, 4, 6, num_dir, lens)
    model = _model("LSTM", inputs, ["Y", "Y_h", "Y_c"], 14, hidden_size=6, direction=direction)
    actual, expected = _run_both(model, {k: v for k, v in inputs.items() if v is not None})
    _assert_close(actual, expected)
    if lens is not None:  # outputs past each sequence's length are zero
        assert not actual[0][2:, :, 1].any()


def test_lstm_clip_input_forget_and_activations():
    inputs = _lstm_inputs(4, 2, 3, 5, 2, [4, 3])
    attrs = dict(hidden_size=5, direction="bidirectional", clip=0.7, input_forget=1,
                 activations=["HardSigmoid", "Tanh", "Softsign", "Sigmoid", "LeakyRelu", "Tanh"],
                 activation_alpha=[0.3, 0.05], activation_beta=[0.4])
    model = _model("LSTM", inputs, ["Y", "Y_h", "Y_c"], 14, **attrs)
    _assert_close(*_run_both(model, {k: v for k, v in inputs.items() if v is not None}))


def test_lstm_layout_1_matches_layout_0():
    """onnxruntime has no batch-major layout, so layout 1 is checked against its layout-0 result."""
    inputs = _lstm_inputs(5, 3, 4, 6, 2, [5, 4, 1])
    feeds = {k: v for k, v in inputs.items() if v is not None}
    model0 = _model("LSTM", inputs, ["Y", "Y_h", "Y_c"], 14, hidden_size=6, direction="bidirectional")
    expected = onnxruntime.InferenceSession(model0, providers=["CPUExecutionProvider"]).run(None, feeds)

    batch_major = dict(inputs, X=inputs["X"].transpose(1, 0, 2), initial_h=inputs["initial_h"].transpose(1, 0, 2),
                       initial_c=inputs["initial_c"].transpose(1, 0, 2))
    model1 = _model("LSTM", batch_major, ["Y", "Y_h", "Y_c"], 14, hidden_size=6, direction="bidirectional",
                    layout=1)
    y, y_h, y_c = onyx.InferenceSession(model1).run(None, {k: v for k, v in batch_major.items() if v is not None})
    np.testing.assert_allclose(y, expected[0].transpose(2, 0, 1, 3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_h, expected[1].transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_c, expected[2].transpose(1, 0, 2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_gru(linear_before_reset, direction):
    num_dir = 2 if direction == "bidirectional" else 1
    seq, batch, inp, hidden = 6, 3, 4, 5
    inputs = {
        "X": _randn(seq, batch, inp),
        "W": _randn(num_dir, 3 * hidden, inp),
        "R": _randn(num_dir, 3 * hidden, hidden),
        "B": _randn(num_dir, 6 * hidden),
        "sequence_lens": np.array([6, 3, 4], dtype=np.int32),
        "initial_h": _randn(num_dir, batch, hidden),
    }
    model = _model("GRU", inputs, ["Y", "Y_h"], 14, hidden_size=hidden, direction=direction,
                   linear_before_reset=linear_before_reset)
    _assert_close(*_run_both(model, inputs))


@pytest.mark.parametrize("activation, alpha, beta", [
    ("Relu", None, None), ("Affine", [0.5], [0.1]), ("ThresholdedRelu", [0.2], None),
    ("ScaledTanh", [1.5], [0.7]), ("Elu", [0.9], None), ("Softplus", None, None),
])
def test_rnn_activations(activation, alpha, beta):
    seq, batch, inp, hidden = 4, 2, 3, 4
    inputs = {
        "X": _randn(seq, batch, inp),
        "W": _randn(1, hidden, inp) * 0.5,
        "R": _randn(1, hidden, hidden) * 0.5,
        "B": _randn(1, 2 * hidden),
    }
    attrs = {"hidden_size": hidden, "activations": [activation]}
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    model = _model("RNN", inputs, ["Y", "Y_h"], 14, **attrs)
    _assert_close(*_run_both(model, inputs))


def test_attention_4d_gqa_causal_with_past_and_qk_output():
    batch, q_heads, kv_heads, q_len, past, head = 2, 6, 2, 3, 4, 8
    inputs = {
        "Q": _randn(batch, q_heads, q_len, head),
        "K": _randn(batch, kv_heads, q_len, head),
        "V": _randn(batch, kv_heads, q_len, head),
        "attn_mask": _randn(q_len, past + q_len),
        "past_key": _randn(batch, kv_heads, past, head),
        "past_value": _randn(batch, kv_heads, past, head),
    }
    model = _model("Attention", inputs, ["Y", "present_key", "present_value", "qk"], 23, is_causal=1,
                   qk_matmul_output_mode=0)
    _assert_close(*_run_both(model, inputs))


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_attention_3d_bool_mask_softcap_scale(mode):
    batch, q_heads, kv_heads, q_len, kv_len, head, v_head = 2, 4, 2, 5, 7, 6, 3
    mask = RNG.random((batch, 1, q_len, kv_len)) > 0.3
    mask[..., 0] = True
    inputs = {
        "Q": _randn(batch, q_len, q_heads * head),
        "K": _randn(batch, kv_len, kv_heads * head),
        "V": _randn(batch, kv_len, kv_heads * v_head),
        "attn_mask": mask,
    }
    model = _model("Attention", inputs, ["Y", "", "", "qk"], 23, q_num_heads=q_heads, kv_num_heads=kv_heads,
                   softcap=2.5, scale=0.3, qk_matmul_output_mode=mode)
    (y, qk), expected = _run_both(model, inputs)
    if mode == 2:  # masked scores: -inf per the spec, the lowest float in onnxruntime
        assert np.isneginf(qk[np.broadcast_to(~mask, qk.shape)]).all()
        qk = np.maximum(qk, np.finfo(np.float32).min)
    _assert_close([y, qk], expected)


def test_attention_float16():
    inputs = {
        "Q": _randn(1, 2, 4, 8).astype(np.float16),
        "K": _randn(1, 2, 6, 8).astype(np.float16),
        "V": _randn(1, 2, 6, 8).astype(np.float16),
    }
    model = _model("Attention", inputs, ["Y"], 23)
    _assert_close(*_run_both(model, inputs), atol=2e-3)


def test_attention_24_external_cache_nonpad_causal():
    batch, heads, q_len, kv_len, head = 2, 2, 2, 6, 4
    inputs = {
        "Q": _randn(batch, heads, q_len, head),
        "K": _randn(batch, heads, kv_len, head),
        "V": _randn(batch, heads, kv_len, head),
        "attn_mask": None,
        "past_key": None,
        "past_value": None,
        "nonpad_kv_seqlen": np.array([3, 6], dtype=np.int64),
    }
    model = _model("Attention", inputs, ["Y"], 24, is_causal=1)
    _assert_close(*_run_both(model, {k: v for k, v in inputs.items() if v is not None}))


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_embedding_3d_partial(interleaved):
    batch, seq, heads, head, rotary = 2, 3, 2, 8, 4
    inputs = {
        "X": _randn(batch, seq, heads * head),
        "cos_cache": _randn(10, rotary // 2),
        "sin_cache": _randn(10, rotary // 2),
        "position_ids": RNG.integers(0, 10, (batch, seq)),
    }
    model = _model("RotaryEmbedding", inputs, ["Y"], 23, interleaved=interleaved, num_heads=heads,
                   rotary_embedding_dim=rotary)
    _assert_close(*_run_both(model, inputs))
