"""com.microsoft contrib kernels (onyx/ops/contrib) against onnxruntime, or against a NumPy formula
from onnxruntime's operator docs where its CPU build has no kernel (BiasSoftmax)."""

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper

from oracle import (
    assert_outputs_match,
    present,
    readonly_feeds,
    run_both,
    run_onnxruntime,
    run_onyx_leaving_inputs,
    single_node_model,
    weights_for_ort_u8s8,
)

MS = "com.microsoft"
RNG = np.random.default_rng(0)


def _model(op, inputs, n_outputs=1, domain=MS, **attrs):
    """A one-node model importing '' 17 and com.microsoft 1; ``inputs`` maps names to arrays (None: absent).
    Outputs are float-typed where onnxruntime cannot infer their type (MultiHeadAttention's qk)."""
    model = single_node_model(op, inputs, n_outputs, opset=17, domain=domain, extra_opsets={MS: 1},
                              infer_types=False, **attrs)
    if op == "MultiHeadAttention" and n_outputs == 4:
        model.graph.output[3].CopyFrom(helper.make_tensor_value_info("y3", TensorProto.FLOAT, None))
    return model


def run(op, inputs, n_outputs=1, domain=MS, **attrs):
    """Run on onyx with read-only inputs, checking that none changed."""
    return run_onyx_leaving_inputs(_model(op, inputs, n_outputs, domain, **attrs), readonly_feeds(inputs))


def ort_run(op, inputs, n_outputs=1, domain=MS, **attrs):
    return run_onnxruntime(_model(op, inputs, n_outputs, domain, **attrs), present(inputs))


def check_ort(op, inputs, n_outputs=1, domain=MS, rtol=1e-4, atol=1e-5, skip=(), **attrs):
    """Compare onyx with onnxruntime on the same one-node model (outputs in ``skip`` are not compared)."""
    got = run(op, inputs, n_outputs, domain, **attrs)
    want = ort_run(op, inputs, n_outputs, domain, **attrs)
    assert_outputs_match(got, want, rtol=rtol, atol=atol, skip=skip)
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


# -- attention.py --------------------------------------------------------------------------------

B, S, N, HEAD, D_IN = 2, 4, 2, 4, 6


def _attention_inputs(mask=None, past_len=0, weights_width=3 * N * HEAD, bias=True, attention_bias=None):
    return {
        "input": randn(B, S, D_IN),
        "weights": randn(D_IN, weights_width),
        "bias": randn(weights_width) if bias else None,
        "mask_index": mask,
        "past": randn(2, B, N, past_len, HEAD) if past_len else None,
        "attention_bias": attention_bias,
    }


@pytest.mark.parametrize(
    "mask",
    [
        None,
        np.array([2, 4], np.int32),  # right-padding lengths
        np.array([4, 3, 1, 0], np.int32),  # left padding: ends, then starts
        np.array([[1, 1, 0, 1], [1, 0, 0, 1]], np.int32),
        np.array([[0, 0, 0, 0], [1, 0, 0, 1]], np.int32),  # a fully masked row
        RNG.integers(0, 2, (B, S, S)).astype(np.int32),
    ],
    ids=["none", "lengths", "start_end", "2d", "2d_all_masked", "3d"],
)
@pytest.mark.parametrize("unidirectional", [0, 1])
def test_attention_masks(mask, unidirectional):
    check_ort("Attention", _attention_inputs(mask), num_heads=N, unidirectional=unidirectional)


@pytest.mark.parametrize(
    "mask",
    [None, np.array([6, 7], np.int32), np.array([[1, 1, 0, 1, 1, 1, 1], [1, 0, 0, 1, 1, 1, 1]], np.int32)],
    ids=["none", "lengths", "2d"],
)
@pytest.mark.parametrize("unidirectional", [0, 1])
def test_attention_past_present(mask, unidirectional):
    check_ort("Attention", _attention_inputs(mask, past_len=3), n_outputs=2, num_heads=N, unidirectional=unidirectional)


def test_attention_qkv_hidden_sizes_scale_bias():
    sizes = [N * HEAD, N * HEAD, 2 * N]
    check_ort("Attention", _attention_inputs(weights_width=sum(sizes), bias=False), num_heads=N, qkv_hidden_sizes=sizes)
    inputs = _attention_inputs(attention_bias=randn(1, N, S, S))
    check_ort("Attention", inputs, num_heads=N, scale=0.3, mask_filter_value=-1e4)


def test_attention_4d_mask():
    """onnxruntime's CPU kernel rejects 4-D masks (B, 1, M, M); rows past..past+S, columns :total apply,
    so the result must equal that of the sliced 3-D mask."""
    mask4 = RNG.integers(0, 2, (B, 1, 8, 8)).astype(np.int32)
    mask4[:, :, :, 0] = 1
    inputs = _attention_inputs(mask4, past_len=2)
    got = run("Attention", inputs, n_outputs=2, num_heads=N)
    sliced = {**inputs, "mask_index": mask4[:, 0, 2 : 2 + S, : 2 + S].copy()}
    want = ort_run("Attention", sliced, n_outputs=2, num_heads=N)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


L = 5


def _mha(key_shape=(B, L, N * HEAD), bias=True, mask=None, attention_bias=None, past_len=0):
    inputs = {
        "query": randn(B, S, N * HEAD),
        "key": randn(*key_shape),
        "value": randn(*key_shape[:-1], N * HEAD) if len(key_shape) == 3 else randn(*key_shape),
        "bias": randn(3 * N * HEAD) if bias else None,
        "key_padding_mask": mask,
        "attention_bias": attention_bias,
        "past_key": randn(B, N, past_len, HEAD) if past_len else None,
        "past_value": randn(B, N, past_len, HEAD) if past_len else None,
    }
    return inputs


@pytest.mark.parametrize(
    "mask",
    [
        None,
        np.array([3, 5], np.int32),
        RNG.integers(0, 2, (B, L)).astype(np.int32),
        RNG.integers(0, 2, (B, S, L)).astype(np.int32),
    ],
    ids=["none", "lengths", "2d", "3d"],
)
@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_attention_cross(mask, bias):
    check_ort("MultiHeadAttention", _mha(bias=bias, mask=mask), n_outputs=3, num_heads=N)


def test_multi_head_attention_bias_scale_and_bnsh_kv():
    inputs = _mha(attention_bias=randn(B, 1, S, L))
    check_ort("MultiHeadAttention", inputs, num_heads=N, scale=0.7, mask_filter_value=-1e5)
    check_ort("MultiHeadAttention", _mha(key_shape=(B, N, L, HEAD)), num_heads=N)
    v_small = {**_mha(bias=False), "value": randn(B, L, 6)}
    check_ort("MultiHeadAttention", v_small, num_heads=N)


@pytest.mark.parametrize(
    "mask",
    [None, np.array([4, 6], np.int32), RNG.integers(0, 2, (B, S + 2)).astype(np.int32)],
    ids=["none", "lengths", "2d"],
)
@pytest.mark.parametrize("unidirectional", [0, 1])
def test_multi_head_attention_past_present(mask, unidirectional):
    inputs = _mha(key_shape=(B, S, N * HEAD), mask=mask, past_len=2)
    check_ort("MultiHeadAttention", inputs, n_outputs=3, num_heads=N, unidirectional=unidirectional)


@pytest.mark.parametrize("unidirectional", [0, 1])
def test_multi_head_attention_qk_output(unidirectional):
    inputs = _mha(key_shape=(B, S, N * HEAD), mask=np.array([3, 4], np.int32), bias=False, past_len=1)
    check_ort("MultiHeadAttention", inputs, n_outputs=4, num_heads=N, unidirectional=unidirectional)


def test_multi_head_attention_packed():
    """onnxruntime's CPU kernel rejects packed KV (B, L, N, 2, h) and packed QKV (B, S, N, 3, h): compare
    with onnxruntime on the same tensors unpacked into separate query/key/value."""
    q, k, v, bias = randn(B, S, N, HEAD), randn(B, L, N, HEAD), randn(B, L, N, HEAD), randn(3 * N * HEAD)
    flat = {"query": q.reshape(B, S, -1), "key": k.reshape(B, L, -1), "value": v.reshape(B, L, -1), "bias": bias}
    want = ort_run("MultiHeadAttention", flat, num_heads=N)[0]
    packed_kv = {"query": flat["query"], "key": np.stack([k, v], axis=3), "value": None, "bias": bias}
    np.testing.assert_allclose(run("MultiHeadAttention", packed_kv, num_heads=N)[0], want, rtol=1e-4, atol=1e-5)
    k, v = randn(B, S, N, HEAD), randn(B, S, N, HEAD)
    flat = {"query": q.reshape(B, S, -1), "key": k.reshape(B, S, -1), "value": v.reshape(B, S, -1), "bias": bias}
    want = ort_run("MultiHeadAttention", flat, num_heads=N)[0]
    packed_qkv = {"query": np.stack([q, k, v], axis=3), "key": None, "value": None, "bias": bias}
    np.testing.assert_allclose(run("MultiHeadAttention", packed_qkv, num_heads=N)[0], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("position", ["offset", "ids"])
@pytest.mark.parametrize("rotary_dim", [0, 4])
def test_rotary_embedding(interleaved, rank, position, rotary_dim):
    head = 8
    x = randn(B, S, N * head) if rank == 3 else randn(B, N, S, head)
    half = (rotary_dim or head) // 2
    positions = np.array([3], np.int64) if position == "offset" else RNG.integers(0, 16, (B, S)).astype(np.int64)
    inputs = {"input": x, "position_ids": positions, "cos_cache": randn(16, half), "sin_cache": randn(16, half)}
    attrs = {"rotary_embedding_dim": rotary_dim, "num_heads": N} if rotary_dim else {}
    check_ort("RotaryEmbedding", inputs, interleaved=interleaved, **attrs)


# -- quantized.py --------------------------------------------------------------------------------


def f32(v):
    return np.array(v, np.float32)


def _ints(dtype, *shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("block_size", [16, 32])
@pytest.mark.parametrize("zero_points", ["absent", "packed", "float"])
def test_matmul_nbits(bits, block_size, zero_points):
    """K = 40 is not a multiple of the block size (the last block is padded)."""
    k, n = 40, 5
    k_blocks = -(-k // block_size)
    if bits == 8 and zero_points == "float":
        pytest.skip("onnxruntime's CPU kernel rejects 8-bit weights with float zero points")
    zp = {
        "absent": None,
        "packed": _ints(np.uint8, n, -(-k_blocks * bits // 8)),
        "float": (RNG.random((n, k_blocks)) * 3).astype(np.float32),
    }[zero_points]
    inputs = {
        "A": randn(2, 3, k),
        "B": _ints(np.uint8, n, k_blocks, block_size * bits // 8),
        "scales": RNG.random((n, k_blocks)).astype(np.float32),
        "zero_points": zp,
        "g_idx": None,
        "bias": randn(n) if zero_points == "float" else None,
    }
    check_ort("MatMulNBits", inputs, K=k, N=n, bits=bits, block_size=block_size)


@pytest.mark.parametrize("zero_points", [False, True])
def test_matmul_nbits_g_idx(zero_points):
    """g_idx maps each K row to its block. Not compared with packed uint8 zero points, which onnxruntime's
    CPU kernel ignores (it then uses the default 2^(bits-1)) when g_idx is given."""
    k, n, block_size = 40, 5, 16
    inputs = {
        "A": randn(3, k),
        "B": _ints(np.uint8, n, 3, 8),
        "scales": RNG.random((n, 3)).astype(np.float32),
        "zero_points": (RNG.random((n, 3)) * 3).astype(np.float32) if zero_points else None,
        "g_idx": (np.arange(k) // block_size).astype(np.int32)[RNG.permutation(k)],
    }
    check_ort("MatMulNBits", inputs, K=k, N=n, bits=4, block_size=block_size)


def test_matmul_nbits_omitted_weights():
    """A zero-sized B stands for an omitted projection: the output is the broadcast bias."""
    inputs = {"A": randn(2, 16), "B": np.zeros((4, 0, 8), np.uint8), "scales": np.zeros((4, 0), np.float32)}
    bias = randn(4)
    (got,) = run("MatMulNBits", {**inputs, "zero_points": None, "g_idx": None, "bias": bias}, K=16, N=4, block_size=16)
    np.testing.assert_array_equal(got, np.broadcast_to(bias, (2, 4)))


@pytest.mark.parametrize("b_dtype", [np.uint8, np.int8])
def test_dynamic_quantize_matmul(b_dtype):
    """A is quantized to uint8 on the fly, so float sums differ slightly in order: rtol 1e-4."""
    a, b = randn(3, 4, 5), weights_for_ort_u8s8(RNG, b_dtype, 5, 6)
    per_column_zp = np.array(RNG.integers(0, 100, 6), b_dtype)
    zero_point = np.array(3, b_dtype)
    check_ort("DynamicQuantizeMatMul", {"A": a, "B": b, "b_scale": f32(0.05), "b_zero_point": zero_point, "bias": randn(6)})
    check_ort("DynamicQuantizeMatMul", {"A": a, "B": b, "b_scale": f32(RNG.random(6))})
    inputs = {"A": np.abs(a), "B": b, "b_scale": f32(RNG.random(6)), "b_zero_point": per_column_zp}
    check_ort("DynamicQuantizeMatMul", inputs)


@pytest.mark.parametrize("b_dtype", [np.uint8, np.int8])
def test_matmul_integer_to_float(b_dtype):
    a, b = _ints(np.uint8, 3, 4, 5), weights_for_ort_u8s8(RNG, b_dtype, 5, 6)
    inputs = {
        "A": a,
        "B": b,
        "a_scale": f32(0.05),
        "b_scale": f32(RNG.random(6)),
        "a_zero_point": np.array(3, np.uint8),
        "b_zero_point": np.array(RNG.integers(0, 100, 6), b_dtype),
        "bias": randn(6),
    }
    check_ort("MatMulIntegerToFloat", inputs)
    check_ort("MatMulIntegerToFloat", {"A": a, "B": b, "a_scale": f32(0.05), "b_scale": f32(0.2)})


def test_matmul_integer_to_float_int8_a():
    """onnxruntime's CPU build has no int8-A kernel: compare with (A - a_zp) @ (B - b_zp) * a_scale * b_scale."""
    a, b, b_scale = _ints(np.int8, 3, 5), _ints(np.int8, 5, 6), f32(RNG.random(6))
    inputs = {"A": a, "B": b, "a_scale": f32(0.05), "b_scale": b_scale, "a_zero_point": np.array(-3, np.int8)}
    (got,) = run("MatMulIntegerToFloat", inputs)
    want = (a.astype(np.int64) + 3) @ b.astype(np.int64) * np.float32(0.05) * b_scale
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _qparams(dtype):
    signed = dtype == np.int8
    return np.array(3, dtype), np.array(-2 if signed else 200, dtype), np.array(10, dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op, c_scale", [("QLinearAdd", 0.2), ("QLinearMul", 3.0)])
def test_qlinear_binary(dtype, op, c_scale):
    """Equal to the exactly rounded result (float64 is exact for these codes and float32 scales);
    within one unit of onnxruntime, whose float32 steps can land on the neighbouring code when
    the true value is within float32 rounding of a .5 tie."""
    za, zb, zc = _qparams(dtype)
    inputs = {
        "A": _ints(dtype, 3, 4, 5),
        "A_scale": f32(0.05),
        "A_zero_point": za,
        "B": _ints(dtype, 4, 5),
        "B_scale": f32(0.1),
        "B_zero_point": zb,
        "C_scale": f32(c_scale),
        "C_zero_point": zc,
    }
    (got,) = run(op, inputs)
    (want,) = ort_run(op, inputs)
    assert got.dtype == want.dtype == dtype
    a = (inputs["A"].astype(np.float64) - float(za)) * float(inputs["A_scale"])
    b = (inputs["B"].astype(np.float64) - float(zb)) * float(inputs["B_scale"])
    info = np.iinfo(dtype)
    exact = np.clip(np.rint((a + b if op == "QLinearAdd" else a * b) / float(inputs["C_scale"])) + float(zc), info.min, info.max)
    np.testing.assert_array_equal(got, exact.astype(dtype))
    assert np.abs(got.astype(np.int16) - want).max() <= 1


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_unary_concat_pool(dtype):
    za, zb, zc = _qparams(dtype)
    x = _ints(dtype, 3, 4, 5)
    inputs = {"X": x, "X_scale": f32(0.05), "X_zero_point": za, "Y_scale": f32(1 / 256), "Y_zero_point": zc}
    check_ort("QLinearSigmoid", inputs)
    for alpha in (0.01, 0.2):
        inputs = {"X": x, "X_scale": f32(0.05), "X_zero_point": za, "Y_scale": f32(0.03), "Y_zero_point": zc}
        check_ort("QLinearLeakyRelu", inputs, alpha=alpha)
    triples = {"a": x, "a_scale": f32(0.05), "a_zp": zb, "b": _ints(dtype, 3, 2, 5), "b_scale": f32(0.1), "b_zp": za}
    for axis in (1, -2):
        check_ort("QLinearConcat", {"Y_scale": f32(0.1), "Y_zero_point": za, **triples}, axis=axis)
    image = _ints(dtype, 2, 3, 4, 5)
    for channels_last in (0, 1):
        inputs = {"X": image, "x_scale": f32(0.05), "x_zero_point": za, "y_scale": f32(0.03), "y_zero_point": zc}
        check_ort("QLinearGlobalAveragePool", inputs, channels_last=channels_last)


def test_quantize_dequantize_linear():
    x = randn(2, 3, 4) * 5
    x[0, 0, :3] = [0.5, 1.5, 2.5]  # ties round to even
    check_ort("QuantizeLinear", {"x": x, "s": f32(0.1), "z": np.array(3, np.uint8)})
    check_ort("QuantizeLinear", {"x": x, "s": f32(1.0), "z": np.array(-3, np.int8)})
    check_ort("QuantizeLinear", {"x": x, "s": f32(0.1)})
    check_ort("QuantizeLinear", {"x": x, "s": f32([0.1, 0.2, 0.3]), "z": np.array([1, 2, 3], np.int16)})
    check_ort("QuantizeLinear", {"x": x, "s": f32([0.1, 0.2, 0.3, 0.4]), "z": np.arange(4, dtype=np.uint16)}, axis=-1)
    q = _ints(np.uint8, 2, 3, 4)
    check_ort("DequantizeLinear", {"x": q, "s": f32(0.1), "z": np.array(3, np.uint8)})
    check_ort("DequantizeLinear", {"x": q, "s": f32([0.1, 0.2, 0.3])})
    inputs = {"x": q.astype(np.int32), "s": f32([0.1, 0.2, 0.3, 0.4]), "z": np.arange(4, dtype=np.int32)}
    check_ort("DequantizeLinear", inputs, axis=2)
    check_ort("DequantizeLinear", {"x": q, "s": np.array(0.1, np.float16), "z": np.array(3, np.uint8)})


def test_quantize_dequantize_linear_int4():
    """onnxruntime's Python API cannot feed int4 tensors: compare with the documented formulas."""
    x = randn(2, 3, 4) * 5
    zero_point = np.array([1, -2, 3], ml_dtypes.int4)
    (q,) = run("QuantizeLinear", {"x": x, "s": f32([0.5, 1.0, 2.0]), "z": zero_point})
    want = np.clip(np.rint(x / f32([0.5, 1.0, 2.0])[:, None]) + f32([1, -2, 3])[:, None], -8, 7)
    assert q.dtype == ml_dtypes.int4
    np.testing.assert_array_equal(q.astype(np.float32), want)
    (y,) = run("DequantizeLinear", {"x": q, "s": f32([0.5, 1.0, 2.0]), "z": zero_point})
    np.testing.assert_allclose(y, (want - f32([1, -2, 3])[:, None]) * f32([0.5, 1.0, 2.0])[:, None])


def _gather_block_quantized_model(data, scales, zero_points, indices_shape, **attrs):
    """GatherBlockQuantized with data, scales and zero points as initializers (onnxruntime wants constants)."""

    def initializer(name, value):
        dtype = helper.np_dtype_to_tensor_dtype(value.dtype)
        if value.dtype.kind == "V":  # int4/uint4/float8: onnx packs them itself
            return helper.make_tensor(name, dtype, value.shape, value.ravel().tolist())
        return helper.make_tensor(name, dtype, value.shape, value.tobytes(), raw=True)

    inits = [initializer("data", data), initializer("scales", scales)]
    names = ["data", "indices", "scales"]
    if zero_points is not None:
        inits.append(initializer("zp", zero_points))
        names.append("zp")
    node = helper.make_node("GatherBlockQuantized", names, ["y"], domain=MS, **attrs)
    indices = helper.make_tensor_value_info("indices", TensorProto.INT64, indices_shape)
    graph = helper.make_graph([node], "g", [indices], [helper.make_empty_tensor_value_info("y")], inits)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def _check_gather_block_quantized(data, scales, zero_points, indices, **attrs):
    model = _gather_block_quantized_model(data, scales, zero_points, indices.shape, **attrs)
    (got,), (want,) = run_both(model, {"indices": indices})
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("zero_points", [False, True])
def test_gather_block_quantized_uint8(bits, zero_points):
    rows, cols, block = 6, 64, 16
    data = _ints(np.uint8, rows, cols * bits // 8)
    scales = RNG.random((rows, cols // block)).astype(np.float32)
    zp = _ints(np.uint8, rows, -(-(cols // block) * bits // 8)) if zero_points else None
    indices = np.array([[0, 5], [3, -1]], np.int64)
    _check_gather_block_quantized(data, scales, zp, indices, bits=bits, block_size=block)


@pytest.mark.parametrize("dtype", [ml_dtypes.int4, ml_dtypes.uint4])
@pytest.mark.parametrize(
    "shape, scale_shape, indices, attrs",
    [
        ((6, 64), (6, 4), np.array([[0, 5], [3, -1]]), {}),
        ((6, 64), (6, 4), np.array([0, 9, -7]), {}),  # out of range: zero rows
        ((32, 8), (2, 8), np.array([[1, 30], [17, 5]]), {"quantize_axis": 0, "gather_axis": 0}),
        ((32, 8), (2, 8), np.array([1, 7]), {"quantize_axis": 0, "gather_axis": 1}),
        ((3, 4, 32), (3, 4, 2), np.array([2, 0]), {"quantize_axis": 2, "gather_axis": 1}),
    ],
)
@pytest.mark.parametrize("zero_points", [False, True])
def test_gather_block_quantized_int4(dtype, shape, scale_shape, indices, attrs, zero_points):
    lo, hi = (-8, 8) if dtype == ml_dtypes.int4 else (0, 16)
    data = RNG.integers(lo, hi, shape).astype(dtype)
    scales = RNG.random(scale_shape).astype(np.float32)
    zp = RNG.integers(0, 7, scale_shape).astype(dtype) if zero_points else None
    _check_gather_block_quantized(data, scales, zp, indices.astype(np.int64), block_size=16, **attrs)


def test_gather_block_quantized_float8():
    data = randn(6, 32).astype(ml_dtypes.float8_e4m3fn)
    indices = np.array([1, 5], np.int64)
    _check_gather_block_quantized(data, RNG.random((6, 2)).astype(np.float32), None, indices, block_size=16)
    _check_gather_block_quantized(data, RNG.random((1, 1)).astype(np.float32), None, indices, block_size=0)


# -- qlstm.py ------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("w_dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("variant", ["lengths_peepholes", "input_forget_clip", "activations"])
def test_dynamic_quantize_lstm(direction, w_dtype, variant):
    """Both kernels quantize X and H to uint8 on the fly; onnxruntime's choice of quantization ranges differs in
    detail, so values agree to about 1e-2 (relative for the unbounded cell state), not float precision.
    onnxruntime requires zero weight zero points."""
    steps, batch, size, hidden = 5, 3, 4, 6
    dirs = 2 if direction == "bidirectional" else 1
    inputs = {
        "X": randn(steps, batch, size),
        "W": weights_for_ort_u8s8(RNG, w_dtype, dirs, size, 4 * hidden),
        "R": weights_for_ort_u8s8(RNG, w_dtype, dirs, hidden, 4 * hidden),
        "B": randn(dirs, 8 * hidden) * 0.1,
        "sequence_lens": np.array([5, 3, 1], np.int32) if variant == "lengths_peepholes" else None,
        "initial_h": randn(dirs, batch, hidden),
        "initial_c": randn(dirs, batch, hidden),
        "P": randn(dirs, 3 * hidden) * 0.1 if variant == "lengths_peepholes" else None,
        "W_scale": np.full(dirs, 0.01, np.float32),
        "W_zero_point": np.zeros(dirs, w_dtype),
        "R_scale": (RNG.random((dirs, 4 * hidden)) * 0.01).astype(np.float32),
        "R_zero_point": np.zeros((dirs, 4 * hidden), w_dtype),
    }
    attrs = {
        "lengths_peepholes": {},
        "input_forget_clip": {"input_forget": 1, "clip": 0.5},
        "activations": {
            "activations": ["HardSigmoid", "LeakyRelu", "ScaledTanh"] * dirs,
            "activation_alpha": [0.3, 0.1, 0.9] * dirs,
            "activation_beta": [0.4, 1.1] * dirs,
        },
    }[variant]
    attrs.update(hidden_size=hidden, direction=direction)
    check_ort("DynamicQuantizeLSTM", inputs, n_outputs=3, rtol=1e-2, atol=2e-2, **attrs)
