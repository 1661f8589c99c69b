"""Elementwise math, logic, activations and softmax: behaviour the backend suite leaves out
(legacy opset attributes, integer semantics, dtype preservation), with onnxruntime as oracle."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import onnx
import pytest

import onyx
import oracle
from oracle import elem_type, run_onnxruntime, single_node_model
from onyx.ops.math import ERF_TANH_FIT
from onyx.ops.math import erf as erf_kernel

def _model(op_type: str, inputs: list[np.ndarray], opset: int, out_dtype=None, **attrs) -> onnx.ModelProto:
    rank = max(a.ndim for a in inputs)
    output_types = [(elem_type(out_dtype or inputs[0].dtype), [None] * rank)]
    return single_node_model(op_type, _feeds(inputs), ["y"], opset=opset, output_types=output_types,
                             infer_types=False, ir_version=8, **attrs)


def _feeds(inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"x{i}": a for i, a in enumerate(inputs)}


def run_onyx(op_type: str, inputs: list[np.ndarray], opset: int, out_dtype=None, **attrs) -> np.ndarray:
    return oracle.run_onyx(_model(op_type, inputs, opset, out_dtype=out_dtype, **attrs), _feeds(inputs))[0]


def run_ort(op_type: str, inputs: list[np.ndarray], opset: int, out_dtype=None, **attrs) -> np.ndarray:
    return run_onnxruntime(_model(op_type, inputs, opset, out_dtype=out_dtype, **attrs), _feeds(inputs))[0]


RNG = np.random.default_rng(0)


# -- legacy broadcasting (opsets 1 and 6) -------------------------------------------------


def test_add6_broadcast_axis_aligns_from_axis():
    a = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    y = run_onyx("Add", [a, b], 6, broadcast=1, axis=1)
    np.testing.assert_allclose(y, a + b[None, :, :, None])


def test_mul6_broadcast_without_axis_aligns_trailing():
    a = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    b = RNG.standard_normal((4,)).astype(np.float32)
    np.testing.assert_allclose(run_onyx("Mul", [a, b], 6, broadcast=1), a * b)


def test_sub1_accepts_consumed_inputs():
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = RNG.standard_normal((3,)).astype(np.float32)
    np.testing.assert_allclose(run_onyx("Sub", [a, b], 1, broadcast=1, consumed_inputs=[0, 0]), a - b)


def test_legacy_broadcast_zero_rejects_different_shapes():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(onyx.OnyxError, match="broadcast=0"):
        run_onyx("Add", [a, np.ones((3,), np.float32)], 6)


def test_clip6_attributes_and_clip1_single_bound():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    np.testing.assert_array_equal(run_onyx("Clip", [x], 6, min=-1.0, max=2.0), np.clip(x, -1, 2))
    np.testing.assert_array_equal(run_onyx("Clip", [x], 6), x)
    np.testing.assert_array_equal(run_onyx("Clip", [x], 1, max=0.5), np.minimum(x, 0.5))


def test_prelu6_one_dimensional_slope_is_per_channel():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    slope = np.array([0.1, 0.2, 0.3], np.float32)
    expected = np.where(x < 0, x * slope[:, None], x)
    np.testing.assert_allclose(run_onyx("PRelu", [x, slope], 6), expected)


# -- integer semantics, compared with onnxruntime ---------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_div_truncates_toward_zero(dtype):
    a = np.array([7, -7, 7, -7, 6, -6, 0], dtype)
    b = np.array([2, 2, -2, -2, 3, -4, 5], dtype)
    np.testing.assert_array_equal(run_onyx("Div", [a, b], 14), run_ort("Div", [a, b], 14))
    np.testing.assert_array_equal(run_onyx("Div", [a, b], 14), np.array([3, -3, -3, 3, 2, 1, 0], dtype))


@pytest.mark.parametrize("fmod", [0, 1])
def test_integer_mod(fmod):
    a = np.array([-4, 7, 5, 4, -7, 8], np.int32)
    b = np.array([3, -3, 8, -3, 3, 5], np.int32)
    np.testing.assert_array_equal(run_onyx("Mod", [a, b], 13, fmod=fmod), run_ort("Mod", [a, b], 13, fmod=fmod))


def test_pow_integer_base_float_exponent_keeps_base_type():
    x = np.array([1, 2, 3, 4], np.int64)
    y = np.array([0.5, 2.0, -1.0, 1.5], np.float32)
    out = run_onyx("Pow", [x, y], 15)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, run_ort("Pow", [x, y], 15))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [1.0, 2.0, 3.0, 4.0, 2.5, -1.0])
def test_pow_scalar_exponent_matches_power(dtype, exponent):
    """Small integral exponents are computed as products: within 2 ulp of pow, special values included."""
    x = np.concatenate([RNG.standard_normal(1000) * 10, [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -3e12]])
    x = x.astype(dtype).reshape(1, -1)
    y = np.array(exponent, dtype)
    out = run_onyx("Pow", [x, y], 15)
    expected = np.power(x, y)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_max_ulp(out, expected, maxulp=2)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))
    np.testing.assert_allclose(out, run_ort("Pow", [x, y], 15), rtol=1e-6)


def test_bitshift_out_of_range_shifts():
    x = np.array([-16, 16, -1, 5], np.int32)
    y = np.array([40, 40, -1, 3], np.int32)
    np.testing.assert_array_equal(run_onyx("BitShift", [x, y], 28, direction="RIGHT"), [-1, 0, -1, 0])
    np.testing.assert_array_equal(run_onyx("BitShift", [x, y], 28, direction="LEFT"), [0, 0, 0, 40])


@pytest.mark.parametrize("neg,pos", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_isinf_detect_flags(neg, pos):
    x = np.array([np.inf, -np.inf, np.nan, 1.0], np.float32)
    out = run_onyx("IsInf", [x], 20, out_dtype=bool, detect_negative=neg, detect_positive=pos)
    np.testing.assert_array_equal(out, [bool(pos), bool(neg), False, False])


# -- softmax opsets ---------------------------------------------------------------------


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset,axis", [(11, 1), (11, -2), (11, 0), (13, 1), (13, -1)])
def test_softmax_family_against_onnxruntime(op_type, opset, axis):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32) * 5
    x[0, 1, :2] = 9.0  # a tie for Hardmax: the first maximum wins
    np.testing.assert_allclose(
        run_onyx(op_type, [x], opset, axis=axis), run_ort(op_type, [x], opset, axis=axis), rtol=1e-5, atol=1e-6
    )


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1e4, 1e4 + 1, -1e4]], np.float32)
    y = run_onyx("Softmax", [x], 13)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(), 1.0, rtol=1e-6)


# -- erf and dtype preservation ---------------------------------------------------------


def test_erf_float64_accuracy():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-30, 1, 300), -np.logspace(-30, 1, 300)])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(run_onyx("Erf", [x], 13), expected, rtol=1e-13, atol=0)


def test_gelu_float64():
    x = RNG.standard_normal(1000) * 4
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(run_onyx("Gelu", [x], 20), exact, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(run_onyx("Gelu", [x], 20, approximate="tanh"), approx, rtol=1e-13, atol=1e-15)


def test_gelu_float32_against_onnxruntime():
    x = RNG.standard_normal(1000).astype(np.float32) * 4
    for approximate in ("none", "tanh"):
        np.testing.assert_allclose(
            run_onyx("Gelu", [x], 20, approximate=approximate),
            run_ort("Gelu", [x], 20, approximate=approximate),
            rtol=1e-5,
            atol=1e-6,
        )


UNARY_FLOAT_OPS = [
    ("Relu", 14, {}), ("LeakyRelu", 16, {"alpha": 0.1}), ("Elu", 6, {}), ("Selu", 6, {}), ("Celu", 12, {}),
    ("Sigmoid", 13, {}), ("HardSigmoid", 6, {}), ("HardSwish", 14, {}), ("Softplus", 1, {}),
    ("Softsign", 1, {}), ("Gelu", 20, {}), ("Mish", 18, {}), ("ThresholdedRelu", 10, {}),
    ("Shrink", 9, {"bias": 0.5}), ("Swish", 24, {"alpha": 2.0}), ("Erf", 13, {}), ("Tanh", 13, {}),
    ("Exp", 13, {}), ("Round", 11, {}), ("Softmax", 13, {}), ("LogSoftmax", 13, {}), ("Hardmax", 13, {}),
    ("Sqrt", 13, {}), ("Sin", 7, {}), ("Atan", 7, {}), ("Sign", 13, {}), ("Reciprocal", 13, {}),
]  # fmt: skip


@pytest.mark.parametrize("op_type,opset,attrs", UNARY_FLOAT_OPS, ids=[op[0] for op in UNARY_FLOAT_OPS])
@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float64])
def test_float_dtypes_are_preserved(op_type, opset, attrs, dtype):
    x32 = np.linspace(0.1, 3.0, 12, dtype=np.float32).reshape(3, 4) * np.array([1, -1, 1, -1], np.float32)
    if op_type == "Sqrt":
        x32 = np.abs(x32)
    out = run_onyx(op_type, [x32.astype(dtype)], opset, **attrs)
    assert out.dtype == np.dtype(dtype)
    reference = run_onyx(op_type, [x32.astype(dtype).astype(np.float64)], opset, **attrs)
    tolerance = 1e-2 if dtype == ml_dtypes.bfloat16 else 2e-3 if dtype == np.float16 else 1e-12
    np.testing.assert_allclose(out.astype(np.float64), reference, rtol=tolerance, atol=tolerance)


def test_erf_of_transposed_input():
    x = (RNG.standard_normal((40, 30)) * 3).T
    expected = np.vectorize(math.erf)(x)
    np.testing.assert_allclose(erf_kernel(x), expected, rtol=1e-13, atol=1e-15)


def test_erf_float32_accuracy_and_saturation():
    x = np.concatenate([np.linspace(-6, 6, 100001), np.logspace(-38, 1, 500), -np.logspace(-38, 1, 500)])
    x = x.astype(np.float32)
    expected = np.array([math.erf(v) for v in x.astype(np.float64)])
    out = erf_kernel(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=5e-7, atol=0)
    huge = np.array([5, 10, 1e3, 1e20, 3e38, np.inf], np.float32)
    np.testing.assert_array_equal(erf_kernel(np.concatenate([huge, -huge])), [1] * 6 + [-1] * 6)
    assert np.isnan(erf_kernel(np.array([np.nan], np.float32))[0])


def test_erf_float32_polynomial_increases_beyond_its_fit():
    # erf(x) = tanh(x R(x**2)) is used unclamped: R must not turn down for large x**2
    slope = np.polyder(ERF_TANH_FIT)
    assert ERF_TANH_FIT[0] > 0 and not any(r.real > 0 and abs(r.imag) < 1e-9 for r in np.roots(slope))


def test_gelu_float32_accuracy_and_large_inputs():
    x = np.concatenate([np.linspace(-10, 10, 100001), [1e3, 1e20, 3e38, -1e3, -1e20, -3e38]]).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x64])
    out = run_onyx("Gelu", [x], 20)
    assert out.dtype == np.float32
    # 1 + erf cancels for negative x, as in the formula itself: the error is bounded relative to |x|
    assert np.max(np.abs(out - exact) / np.maximum(np.abs(x64), 1.0)) < 3e-7
    np.testing.assert_array_equal(out[-6:], x[-6:] * np.float32([1, 1, 1, 0, 0, 0]))


def test_fused_matmul_bias_gelu_matches_separate_ops():
    from onyx.ops.fused import fused_matmul_bias

    b = RNG.standard_normal((8, 6)).astype(np.float32)
    bias = RNG.standard_normal(6).astype(np.float32)
    a = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    for a in (a, a.transpose(1, 0, 2)):  # a transposed A is made contiguous first
        expected = run_onyx("Gelu", [np.matmul(a, b) + bias], 20)
        np.testing.assert_allclose(fused_matmul_bias(a, b, bias, activation="Gelu"), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0, 2.0, 0.0, -0.5])
def test_leaky_relu_matches_its_definition_on_special_values(alpha):
    from onyx.ops.activations import leaky_relu

    x = np.array([-3.0, -0.0, 0.0, 2.5, np.inf, -np.inf, np.nan], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        expected = np.where(x < 0, x * np.float32(alpha), x)
        actual = leaky_relu(x, alpha=alpha)
    assert actual.dtype == np.float32
    np.testing.assert_array_equal(actual, expected)
