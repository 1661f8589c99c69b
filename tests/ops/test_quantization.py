"""Quantization kernels against onnxruntime on cases the backend suite does not cover:
negative axes, ties, saturation of out-of-range and infinite values, uneven blocks,
per-row/per-column zero points and scales, and larger random matrices."""

import ml_dtypes
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper

import onyx
import oracle
from oracle import run_both, single_node_model

RNG = np.random.default_rng(0)


def both(op_type, feeds, initializers, opset=21, **attrs):
    """Outputs of a one-node model from onyx and from onnxruntime (initializers hold constant params)."""
    model = single_node_model(op_type, feeds, ["y"], opset=opset, initializers=initializers, **attrs)
    ours, theirs = run_both(model, feeds)
    return ours[0], theirs[0]


def assert_same(ours, theirs):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.astype(np.float64), theirs.astype(np.float64))


@pytest.mark.parametrize("zero_point", [np.int8(-3), np.uint8(200), np.int16(-300), np.uint16(40000)])
def test_quantize_per_tensor_ties_and_saturation(zero_point):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1e6, -1e6, 7.49, -7.51] + list(RNG.normal(0, 300, 50)), np.float32)
    ours, theirs = both("QuantizeLinear", {"x": x}, {"s": np.float32(1.0), "zp": np.array(zero_point)})
    assert_same(ours, theirs)


def test_quantize_per_axis_negative_axis():
    x = RNG.normal(0, 100, (2, 3, 4)).astype(np.float32)
    params = {"s": np.array([0.5, 2.0, 3.0], np.float32), "zp": np.array([-10, 0, 5], np.int8)}
    assert_same(*both("QuantizeLinear", {"x": x}, params, axis=-2))
    q = RNG.integers(-128, 128, (2, 3, 4)).astype(np.int8)
    assert_same(*both("DequantizeLinear", {"x": q}, params, axis=-2))


def run_onyx(op_type, feeds, initializers, out_type, opset=21, **attrs):
    """onyx's output of a one-node model (for types onnxruntime's Python API cannot return)."""
    model = single_node_model(op_type, feeds, ["y"], opset=opset, initializers=initializers,
                              output_types=[(out_type, [])], infer_types=False, **attrs)
    return oracle.run_onyx(model, feeds)[0]


FLOAT8_X = np.array([0.0, -0.0, 1.0, 0.3, 500.0, -500.0, 1e6, -1e6, np.inf, -np.inf, 17.0, 19.0], np.float32)
NAN, INF = np.nan, np.inf


@pytest.mark.parametrize(
    ("qtype", "onnx_type", "saturate", "expected"),
    [
        (ml_dtypes.float8_e4m3fn, TensorProto.FLOAT8E4M3FN, 1,
         [0, -0.0, 1, 0.3125, 448, -448, 448, -448, 448, -448, 16, 20]),
        (ml_dtypes.float8_e4m3fn, TensorProto.FLOAT8E4M3FN, 0,
         [0, -0.0, 1, 0.3125, NAN, NAN, NAN, NAN, NAN, NAN, 16, 20]),
        (ml_dtypes.float8_e5m2, TensorProto.FLOAT8E5M2, 1,
         [0, -0.0, 1, 0.3125, 512, -512, 57344, -57344, 57344, -57344, 16, 20]),
        (ml_dtypes.float8_e5m2, TensorProto.FLOAT8E5M2, 0,
         [0, -0.0, 1, 0.3125, 512, -512, INF, -INF, INF, -INF, 16, 20]),
    ],
)
def test_quantize_float8_saturation(qtype, onnx_type, saturate, expected):
    """The Cast spec's float8 tables: saturate clamps out-of-range and infinite values to the max."""
    params = {"s": np.float32(1.0), "zp": np.zeros((), qtype)}
    y = run_onyx("QuantizeLinear", {"x": FLOAT8_X}, params, onnx_type, saturate=saturate)
    assert y.dtype == qtype
    np.testing.assert_array_equal(y.astype(np.float32), np.array(expected, np.float32))
    assert np.array_equal(np.signbit(y.astype(np.float32)[:2]), [False, True])


@pytest.mark.parametrize(
    ("qtype", "onnx_type", "expected"),
    [
        (ml_dtypes.int4, TensorProto.INT4, [[1, 3, 3, 5], [1, -1, 7, -8]]),
        (ml_dtypes.uint4, TensorProto.UINT4, [[1, 3, 3, 5], [1, 0, 15, 0]]),
    ],
)
def test_quantize_4bit_round_half_even_and_saturate(qtype, onnx_type, expected):
    x = np.array([[0.5, 1.5, 2.5, 3.5], [-0.5, -1.5, 20.0, -20.0]], np.float32)
    params = {"s": np.array([1.0, 0.5], np.float32), "zp": np.array([1, 2], qtype)}
    y = run_onyx("QuantizeLinear", {"x": x}, params, onnx_type, axis=0)
    assert y.dtype == qtype
    np.testing.assert_array_equal(y.astype(np.int8), np.array(expected, np.int8))


def test_blocked_with_partial_last_block():
    x = RNG.normal(0, 10, (3, 7)).astype(np.float32)
    scale = RNG.uniform(0.05, 0.2, (3, 3)).astype(np.float32)
    zp = RNG.integers(-5, 5, (3, 3)).astype(np.int8)
    assert_same(*both("QuantizeLinear", {"x": x}, {"s": scale, "zp": zp}, axis=1, block_size=3))
    q = RNG.integers(-128, 128, (3, 7)).astype(np.int8)
    ours, theirs = both("DequantizeLinear", {"x": q}, {"s": scale, "zp": zp}, axis=1, block_size=3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_dynamic_quantize_linear_random():
    x = RNG.normal(0.7, 2.0, (16, 33)).astype(np.float32)
    names = ["y", "scale", "zero_point"]
    node = helper.make_node("DynamicQuantizeLinear", ["x"], names)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, x.shape),
         helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("zero_point", TensorProto.UINT8, [])],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]).SerializeToString()
    ours = onyx.InferenceSession(data).run(None, {"x": x})
    theirs = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for a, b in zip(ours, theirs):
        assert_same(a, b)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_matmul_integer_zero_points(dtype):
    info = np.iinfo(dtype)
    a = RNG.integers(info.min, info.max + 1, (5, 70)).astype(dtype)
    b = RNG.integers(info.min, info.max + 1, (70, 6)).astype(dtype)
    a_zp = RNG.integers(info.min, info.max + 1, 5).astype(dtype)
    b_zp = RNG.integers(info.min, info.max + 1, 6).astype(dtype)
    # onnxruntime takes a per-tensor zero point for A only
    ours, theirs = both("MatMulInteger", {"a": a, "b": b}, {"a_zp": a_zp[:1], "b_zp": b_zp}, opset=10)
    assert_same(ours, theirs)
    # per-row zero points of A, against exact integer arithmetic
    y = run_onyx("MatMulInteger", {"a": a, "b": b}, {"a_zp": a_zp, "b_zp": b_zp}, TensorProto.INT32, opset=10)
    expected = (a.astype(np.int64) - a_zp[:, None]) @ (b.astype(np.int64) - b_zp)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, expected)


def test_matmul_integer_batched_without_zero_points():
    a = RNG.integers(0, 256, (2, 3, 4, 300)).astype(np.uint8)
    b = oracle.weights_for_ort_u8s8(RNG, np.int8, 300, 5)
    assert_same(*both("MatMulInteger", {"a": a, "b": b}, {}, opset=10))


def _qlinear_params(dtype, rows, cols, per_row):
    zp = 128 if dtype == np.uint8 else -2
    return {
        "a_scale": RNG.uniform(0.01, 0.02, rows if per_row else ()).astype(np.float32),
        "a_zp": np.full(rows if per_row else (), zp + 1, dtype),
        "b_scale": RNG.uniform(0.01, 0.02, cols).astype(np.float32),
        "b_zp": np.full(cols, zp - 1, dtype),
        "y_scale": np.float32(0.05),
        "y_zp": np.array(dtype(zp)),
    }


def _qlinear_inputs(a, b, p):
    return {"a": a, "a_scale": p["a_scale"], "a_zp": p["a_zp"], "b": b,
            "b_scale": p["b_scale"], "b_zp": p["b_zp"], "y_scale": p["y_scale"], "y_zp": p["y_zp"]}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_matmul_batched_per_column(dtype):
    info = np.iinfo(dtype)
    a = RNG.integers(info.min, info.max + 1, (2, 4, 16)).astype(dtype)
    b = RNG.integers(info.min, info.max + 1, (16, 3)).astype(dtype)
    inputs = _qlinear_inputs(a, b, _qlinear_params(dtype, 4, 3, per_row=False))
    ours, theirs = both("QLinearMatMul", {"a": a}, {k: v for k, v in inputs.items() if k != "a"}, opset=21)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    # a product landing on an exact .5 may round either way with a different float operation order
    assert np.abs(ours.astype(np.int32) - theirs.astype(np.int32)).max() <= 1
    assert np.mean(ours == theirs) > 0.9


def test_qlinear_matmul_per_row_scale_and_zero_point():
    """Per-row parameters of A (which onnxruntime's CPU kernel rejects) against a float64 reference."""
    a = RNG.integers(0, 256, (4, 16)).astype(np.uint8)
    b = RNG.integers(0, 256, (16, 3)).astype(np.uint8)
    p = _qlinear_params(np.uint8, 4, 3, per_row=True)
    inputs = _qlinear_inputs(a, b, p)
    y = run_onyx("QLinearMatMul", {"a": a}, {k: v for k, v in inputs.items() if k != "a"}, TensorProto.UINT8)
    acc = (a.astype(np.float64) - p["a_zp"][:, None]) @ (b.astype(np.float64) - p["b_zp"])
    real = acc * p["a_scale"][:, None].astype(np.float64) * p["b_scale"] / p["y_scale"]
    expected = np.clip(np.rint(real) + p["y_zp"], 0, 255)
    assert y.dtype == np.uint8
    assert np.abs(y - expected).max() <= 1 and np.mean(y == expected) > 0.9
