"""com.microsoft contrib kernels (onyx/ops/contrib) against onnxruntime, or against a NumPy formula
from onnxruntime's operator docs where its CPU build has no kernel (BiasSoftmax)."""

import numpy as np
import onnxruntime
import pytest
from onnx import helper

import onyx

MS = "com.microsoft"
RNG = np.random.default_rng(0)


def _model(op, inputs, n_outputs=1, domain=MS, **attrs):
    """A one-node model importing '' 17 and com.microsoft 1; ``inputs`` maps names to arrays (None: absent)."""
    names = [name if value is not None else "" for name, value in inputs.items()]
    outputs = [f"y{i}" if i < n_outputs else "" for i in range(n_outputs)]
    node = helper.make_node(op, names, outputs, domain=domain, **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for n, v in inputs.items()
            if v is not None
        ],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
    return helper.make_model(graph, opset_imports=opsets)


def run(op, inputs, n_outputs=1, domain=MS, **attrs):
    """Run on onyx with read-only inputs, checking that none changed."""
    feeds = {}
    for name, value in inputs.items():
        if value is not None:
            value = np.array(value)
            value.setflags(write=False)
            feeds[name] = value
    before = {n: v.copy() for n, v in feeds.items()}
    model = _model(op, inputs, n_outputs, domain, **attrs)
    out = onyx.InferenceSession(model.SerializeToString()).run(None, feeds)
    for name, value in feeds.items():
        np.testing.assert_array_equal(value, before[name])
    return out


def ort_run(op, inputs, n_outputs=1, domain=MS, **attrs):
    model = _model(op, inputs, n_outputs, domain, **attrs)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {n: v for n, v in inputs.items() if v is not None})


def check_ort(op, inputs, n_outputs=1, domain=MS, rtol=1e-4, atol=1e-5, skip=(), **attrs):
    """Compare onyx with onnxruntime on the same one-node model (outputs in ``skip`` are not compared)."""
    got = run(op, inputs, n_outputs, domain, **attrs)
    want = ort_run(op, inputs, n_outputs, domain, **attrs)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype, (i, g.dtype, w.dtype)
        assert g.shape == w.shape, (i, g.shape, w.shape)
        if i in skip:
            continue
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
    return got


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# -- fused.py ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a_shape, b_shape, attrs",
    [
        ((3, 4), (4, 5), {}),
        ((4, 3), (4, 5), {"transA": 1, "alpha": 0.5}),
        ((3, 4), (5, 4), {"transB": 1}),
        ((2, 4, 3), (2, 5, 4), {"transA": 1, "transB": 1, "alpha": 2.0}),
        ((2, 3, 4), (4, 5), {}),
        ((4, 3, 2, 5), (3, 2, 5, 6), {"transBatchA": 1}),
        ((5, 3, 2, 4), (3, 2, 5, 6), {"transBatchA": 1, "transA": 1}),
        ((3, 2, 4, 5), (5, 3, 2, 6), {"transBatchB": 1}),
        ((3, 2, 4, 5), (6, 3, 2, 5), {"transBatchB": 1, "transB": 1, "alpha": 0.25}),
        ((4, 3, 5), (3, 5, 2), {"transBatchA": 1}),
    ],
)
def test_fused_matmul(a_shape, b_shape, attrs):
    check_ort("FusedMatMul", {"A": randn(*a_shape), "B": randn(*b_shape)}, **attrs)


def test_gelu_family():
    x = randn(2, 3, 8) * 3
    bias = randn(8)
    check_ort("Gelu", {"X": x})
    check_ort("BiasGelu", {"A": x, "B": bias})
    check_ort("FastGelu", {"X": x})
    check_ort("FastGelu", {"X": x, "bias": bias})
    check_ort("QuickGelu", {"X": x})
    check_ort("QuickGelu", {"X": x}, alpha=1.2)
    # onnxruntime has no double Gelu kernel: the double result must match the float one
    (y64,) = run("Gelu", {"X": x.astype(np.float64)})
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, run("Gelu", {"X": x})[0], rtol=1e-5, atol=1e-6)


def test_bias_add():
    """onnxruntime's CPU build has no BiasAdd: compare with X + bias + skip."""
    x, bias, skip = randn(2, 6, 8), randn(8), randn(2, 6, 8)
    (got,) = run("BiasAdd", {"X": x, "bias": bias, "skip": skip})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, x + bias + skip, rtol=1e-6)


def _softmax_from_axis(x, axis):
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1).astype(np.float64)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


@pytest.mark.parametrize(
    "bias_shape, inner, axis, full_shape",
    [
        ((2, 1, 1, 5), 1, 3, (2, 1, 1, 5)),
        ((2, 5), 1, 3, (2, 1, 1, 5)),
        ((2, 4, 5), 1, 2, (2, 1, 4, 5)),
        ((1, 3, 4, 5), 0, 3, (1, 3, 4, 5)),
        ((3, 4, 5), 0, 3, (1, 3, 4, 5)),
        ((4, 5), 0, 2, (1, 1, 4, 5)),
        ((2, 3, 4, 5), 0, 1, (2, 3, 4, 5)),
    ],
)
def test_bias_softmax(bias_shape, inner, axis, full_shape):
    """onnxruntime's CPU build has no BiasSoftmax: compare with softmax(data + bias) over dims axis.. (opset-11
    Softmax), the bias broadcast over the dims between its leading dims and ``axis`` (inner) or leading dims."""
    data, bias = randn(2, 3, 4, 5), randn(*bias_shape)
    (got,) = run("BiasSoftmax", {"data": data, "bias": bias}, axis=axis, is_inner_broadcast=inner)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _softmax_from_axis(data + bias.reshape(full_shape), axis), rtol=1e-5, atol=1e-6)


# -- layernorm.py --------------------------------------------------------------------------------


@pytest.mark.parametrize("skip_shape", [(2, 3, 8), (1, 3, 8), (3, 8)])
@pytest.mark.parametrize("beta, bias", [(True, True), (False, False), (True, False), (False, True)])
def test_skip_layer_normalization(skip_shape, beta, bias):
    inputs = {
        "input": randn(2, 3, 8),
        "skip": randn(*skip_shape),
        "gamma": randn(8),
        "beta": randn(8) if beta else None,
        "bias": randn(8) if bias else None,
    }
    check_ort("SkipLayerNormalization", inputs, n_outputs=4, epsilon=1e-5)
    check_ort("SkipLayerNormalization", inputs, n_outputs=1)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 8), (6, 8)])
def test_skip_simplified_layer_normalization(shape, bias):
    """The mean output (skipped) is unspecified for the RMS form; onnxruntime leaves it zero-filled."""
    inputs = {"input": randn(*shape), "skip": randn(*shape), "gamma": randn(8), "bias": randn(8) if bias else None}
    check_ort("SkipSimplifiedLayerNormalization", inputs, n_outputs=4, skip=(1,), epsilon=1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_simplified_layer_normalization(axis):
    """Registered in the default domain, as onnxruntime does (its schema lives there, since 1)."""
    x = randn(2, 3, 8)
    scale = randn(*x.shape[axis:])
    check_ort("SimplifiedLayerNormalization", {"X": x, "scale": scale}, n_outputs=2, domain="", axis=axis)


def _embed_inputs(segment, mask, position_ids):
    batch, seq, hidden = 2, 5, 8
    return {
        "input_ids": RNG.integers(0, 10, (batch, seq)).astype(np.int32),
        "segment_ids": RNG.integers(0, 2, (batch, seq)).astype(np.int32) if segment else None,
        "word_embedding": randn(10, hidden),
        "position_embedding": randn(16, hidden),
        "segment_embedding": randn(2, hidden) if segment else None,
        "gamma": randn(hidden),
        "beta": randn(hidden),
        "mask": np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], np.int32) if mask else None,
        "position_ids": position_ids,
    }


@pytest.mark.parametrize(
    "segment, mask, position_ids",
    [
        (True, True, None),
        (False, False, None),
        (True, False, np.array([[4, 3, 2, 1, 0]], np.int32)),
        (False, True, np.array([[4, 3, 2, 1, 0], [0, 1, 2, 3, 4]], np.int32)),
    ],
)
def test_embed_layer_normalization(segment, mask, position_ids):
    check_ort("EmbedLayerNormalization", _embed_inputs(segment, mask, position_ids), n_outputs=3)
    check_ort("EmbedLayerNormalization", _embed_inputs(segment, mask, position_ids), n_outputs=2, epsilon=1e-5)
