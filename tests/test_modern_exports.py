"""Models from PyTorch's current default exporter (dynamo=True), transformers and onnxruntime's
quantizer (committed fixtures, tests/fixtures/make_modern_fixtures.py) agree with onnxruntime at
every optimization level, and the patterns they write are fused."""

from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

import onyx
from onyx.model.loader import load_model
from onyx.ops.fused_attention import fused_attention
from onyx.ops.integer_gemm import exact_matmul
from onyx.optimizer import optimize

FIXTURES = Path(__file__).parent / "fixtures"
LEVELS = [level for level in onyx.GraphOptimizationLevel if level != onyx.GraphOptimizationLevel.ORT_ENABLE_LAYOUT]
RNG = np.random.default_rng(0)
IDS = RNG.integers(0, 64, (2, 8))
FEEDS = {
    "modern_gpt2": {"input_ids": IDS},
    "modern_bert": {"input_ids": IDS, "attention_mask": np.array([[1] * 8, [1] * 5 + [0] * 3])},
    "modern_whisper_encoder": {"input_features": RNG.standard_normal((1, 8, 40)).astype(np.float32)},
    "modern_convnext": {"pixel_values": RNG.standard_normal((1, 3, 32, 32)).astype(np.float32)},
    "quantized_bert_dynamic": {"input_ids": IDS, "attention_mask": np.array([[1] * 8, [1] * 6 + [0] * 2])},
    "quantized_lstm_dynamic": {"x": RNG.standard_normal((1, 6, 8)).astype(np.float32)},
    "quantized_cnn_dynamic": {"x": RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)},
    "quantized_cnn_qdq": {"x": RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)},
    "quantized_cnn_qoperator": {"x": RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)},
}
# what the optimizer must have made of each pattern (ORT_ENABLE_ALL, CPU provider)
FUSED = {
    "modern_gpt2": {"FusedAttention": 1, "FusedGemm": 1, "IsNaN": 0, "Pow": 0, "Tanh": 0},
    "modern_bert": {"FusedAttention": 1, "IsNaN": 0},
    "modern_whisper_encoder": {"FusedAttention": 1, "Softmax": 0},
    "quantized_bert_dynamic": {"MatMulIntegerToFloat": 6, "MatMulInteger": 0, "Cast": 1, "FusedAttention": 1},
}


def _tolerance(name: str, expected: np.ndarray) -> float:
    """Absolute tolerance: float rounding, or for quantized models a quantization
    step of their activations (rounding ties there may fall differently after fused float steps)."""
    scale = float(np.abs(expected).max())
    return scale * (1e-2 if name.startswith("quantized") else 1e-4)


@pytest.mark.parametrize("level", LEVELS, ids=lambda level: level.name)
@pytest.mark.parametrize("name", sorted(FEEDS))
def test_agrees_with_onnxruntime(name, level):
    path = str(FIXTURES / f"{name}.onnx")
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    ours = onyx.InferenceSession(path, options)
    theirs = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = FEEDS[name]
    for got, expected in zip(ours.run(None, feeds), theirs.run(None, feeds)):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=_tolerance(name, expected))


@pytest.mark.parametrize("name", sorted(FUSED))
def test_patterns_are_fused(name):
    model, _ = optimize(load_model(FIXTURES / f"{name}.onnx"), onyx.GraphOptimizationLevel.ORT_ENABLE_ALL)
    counts = Counter(n.op_type for n in model.graph.nodes)
    assert {op: counts[op] for op in FUSED[name]} == FUSED[name]


def test_fully_masked_attention_rows_are_zero_as_the_dynamo_export_says():
    """Batch item 1 masks every key: Softmax gives NaN, which the exporter's Where(IsNaN) zeroes."""
    path = str(FIXTURES / "modern_bert.onnx")
    feeds = {"input_ids": IDS, "attention_mask": np.array([[1] * 8, [0] * 8])}
    (expected,) = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
    (got,) = onyx.InferenceSession(path).run(None, feeds)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _reference_attention(q, kt, v, mask, scale):
    scores = (q.astype(np.float64) @ kt) * scale + (0 if mask is None else mask)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (scores / scores.sum(axis=-1, keepdims=True)) @ v


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "causal"])
def test_attention_of_long_sequences_in_blocks_of_rows(masked):
    """600 positions: the kernel works head by head in blocks of query rows."""
    q, kt, v = (RNG.standard_normal(s).astype(np.float32) for s in [(1, 2, 600, 16), (1, 2, 16, 600), (1, 2, 600, 16)])
    mask = np.triu(np.full((600, 600), -np.inf, np.float32), 1) if masked else None
    got = fused_attention(q, kt, v, mask, scale=0.25)
    np.testing.assert_allclose(got, _reference_attention(q, kt, v, mask, 0.25), rtol=1e-4, atol=1e-5)


def test_attention_rows_masked_entirely_are_nan_or_zero():
    q, kt, v = (RNG.standard_normal(s).astype(np.float32) for s in [(2, 4, 8), (2, 8, 4), (2, 4, 8)])
    mask = np.zeros((2, 4, 4), np.float32)
    mask[1, 2] = -np.inf
    assert np.isnan(fused_attention(q, kt, v, mask)[1, 2]).all()
    zeroed = fused_attention(q, kt, v, mask, nan_to_zero=1)
    assert (zeroed[1, 2] == 0).all()
    np.testing.assert_allclose(zeroed[0], _reference_attention(q, kt, v, mask, 1.0)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [64, 3000])
def test_integer_products_through_float32_are_exact(k):
    """Full-range uint8 - zero point times int8 codes: one float32 product where the bound allows
    it, chunks of the inner dimension added in float64 where it does not (k = 3000)."""
    a = (RNG.integers(0, 256, (5, k)) - 3).astype(np.float32)
    b = RNG.integers(-128, 128, (k, 7)).astype(np.float32)
    got = exact_matmul(a, b, 128.0)
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("channels", [4, 64])
def test_integer_convolutions_through_float32_are_exact(channels):
    """ConvInteger of full-range uint8 and int8 codes: 64 channels of 3x3 exceed float32's exact
    integers in one product (576 * 255 * 128 > 2**24) and are summed by chunks of channels."""
    from numpy.lib.stride_tricks import sliding_window_view

    from onyx.ops.conv import conv_integer

    x = RNG.integers(0, 256, (1, channels, 6, 6)).astype(np.uint8)
    w = RNG.integers(-128, 128, (3, channels, 3, 3)).astype(np.int8)
    got = conv_integer(x, w, np.array(7, np.uint8), np.array(0, np.int8))
    windows = sliding_window_view(x.astype(np.int64) - 7, (3, 3), axis=(2, 3))  # (1, C, 4, 4, 3, 3)
    expected = np.einsum("nchwij,mcij->nmhw", windows, w.astype(np.int64))
    np.testing.assert_array_equal(got, expected)


def test_quantized_convolution_adds_large_int32_biases_exactly():
    """acc + B beyond 2**24 rounds in float32: QLinearConv adds its int32 bias in float64."""
    from onyx.ops.conv import qlinear_conv

    x = np.full((1, 1, 1, 1), 3, np.uint8)
    w = np.ones((1, 1, 1, 1), np.int8)
    one, zero = np.array(1.0, np.float32), np.array(0, np.uint8)
    y = qlinear_conv(x, one, zero, w, one, np.array(0, np.int8), np.array(2.0 ** 25, np.float32),
                     np.array(0, np.uint8), np.array([2 ** 26 + 2 ** 24 - 1], np.int32))
    # exactly (3 + 2**26 + 2**24 - 1) / 2**25 = 2.5 + 2**-24, which rounds to 3; the float32 sum is
    # 2**26 + 2**24, exactly 2.5 times the scale, which rounds (half to even) to 2
    assert y.item() == 3


@pytest.mark.parametrize("name", ["modern_bert", "quantized_bert_dynamic"])
def test_saved_optimized_models_run_in_onnxruntime(name, tmp_path):
    """FusedAttention with nan_to_zero is written back as Softmax, IsNaN and Where; the fused
    MatMulIntegerToFloat is onnxruntime's own com.microsoft operator."""
    options = onyx.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    feeds = {"input_ids": IDS, "attention_mask": np.array([[1] * 8, [0] * 8])}
    (ours,) = onyx.InferenceSession(str(FIXTURES / f"{name}.onnx"), options).run(None, feeds)
    (theirs,) = onnxruntime.InferenceSession(options.optimized_model_filepath,
                                             providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=_tolerance(name, theirs))
