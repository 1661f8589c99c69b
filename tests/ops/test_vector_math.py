"""onyx.ops.fast.vmath's float32 functions against float64 references (in units in the last
place), and the compiled activations, fused-product epilogues and attention softmax built on
them against the NumPy kernels and onnxruntime."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onyx
from onyx import compiled
from oracle import assert_outputs_match, run_onnxruntime, single_node_model

pytestmark = pytest.mark.skipif(not compiled.installed(), reason="the [fast] extra (Numba) is not installed")

RNG = np.random.default_rng(3)
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.7, 88.8, -87.5, -100.0, -104.0, 1e-30, -1e-30,
                    0.62, 0.63, -0.625, 3.9, -3.9, 9.0, -9.0, 1e-3], np.float32)


def _inputs() -> np.ndarray:
    spreads = [RNG.standard_normal(4096) * s for s in (0.05, 0.5, 1.0, 3.0, 10.0, 40.0)]
    return np.concatenate(spreads + [SPECIAL]).astype(np.float32)


_erf = np.vectorize(math.erf)
REFERENCES = {
    "exp32": np.exp,
    "tanh32": np.tanh,
    "sigmoid32": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "erf32": _erf,
    "gelu32": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "gelu_tanh32": lambda x: x / (1.0 + np.exp(-2.0 * math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))),
}
# most ulps off the float64 reference where its value is a normal float32; the Gelus where x > -1
# (further down 1 + erf(x / sqrt 2) falls below 0.32, and float32 formulas through erf lose its
# relative precision there: vmath's stays within 1e-6 absolute, see below)
ULPS = {"exp32": 1.5, "tanh32": 2.5, "sigmoid32": 2.5, "erf32": 4.5, "gelu32": 16.0, "gelu_tanh32": 24.0}


def _loop(name: str):
    """A compiled loop applying vmath's ``name`` to each element."""
    from onyx.ops.fast import vmath

    scope = {"jit": compiled.jit, name: getattr(vmath, name)}
    exec(f"""
@jit("void(float32[::1], float32[::1])", error_model="numpy", fastmath={{"contract"}})
def loop(x, out):
    for i in range(x.size):
        out[i] = {name}(x[i])
""", scope)
    return scope["loop"].compiled()


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_within_a_few_ulps_of_float64(name):
    x = _inputs()
    out = np.empty_like(x)
    _loop(name)(x, out)
    with np.errstate(all="ignore"):
        reference = REFERENCES[name](x.astype(np.float64))
    nonfinite = ~np.isfinite(reference.astype(np.float32))
    np.testing.assert_array_equal(out[nonfinite], reference[nonfinite].astype(np.float32))  # inf, nan
    tiny = np.finfo(np.float32).tiny
    checked = ~nonfinite & (np.abs(reference) >= tiny)
    if name.startswith("gelu"):
        checked &= x > -1.0
    ulp = np.spacing(np.abs(reference[checked]).astype(np.float32)).astype(np.float64)
    worst = float(np.max(np.abs(out[checked] - reference[checked]) / ulp))
    assert worst <= ULPS[name], f"{name}: {worst:.2f} ulp"
    finite = ~nonfinite & (np.abs(reference) >= tiny) | (reference == 0)
    assert np.all(np.abs(out[finite] - reference[finite]) <= 1e-6 * (1.0 + np.abs(reference[finite])))


def test_gelu_as_accurate_as_the_numpy_kernel():
    from onyx.ops.activations import gelu_float32

    x = _inputs()
    x = x[np.isfinite(x)]
    out = np.empty_like(x)
    _loop("gelu32")(x, out)
    reference = REFERENCES["gelu32"](x.astype(np.float64))
    numpy_error = np.max(np.abs(gelu_float32(x.copy(), np.empty_like(x)) - reference))
    assert np.max(np.abs(out - reference)) <= 1.5 * numpy_error


def test_exp_underflows_through_the_subnormals_and_overflows_to_inf():
    x = np.array([-87.3, -95.0, -103.0, -103.9, -104.5, -200.0, 88.72, 88.73, 200.0], np.float32)
    out = np.empty_like(x)
    _loop("exp32")(x, out)
    expected = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(out[:4], expected[:4], rtol=2e-7 * 8, atol=2e-45)  # subnormals keep ~8 bits less
    assert np.all(out[4:6] == 0) and out[6] == expected[6] and np.all(np.isinf(out[7:]))


# -- operators and epilogues through sessions ---------------------------------------------------


def _session(model: onnx.ModelProto, compiled_kernels: str) -> onyx.InferenceSession:
    options = onyx.SessionOptions()
    options.add_session_config_entry(compiled.COMPILED_KERNELS_KEY, compiled_kernels)
    return onyx.InferenceSession(model.SerializeToString(), options)


def _check(model: onnx.ModelProto, feeds: dict, kernels: dict[str, str], rtol=2e-6, atol=2e-6) -> None:
    """The compiled session gives each op type in ``kernels`` that kernel and agrees with the
    NumPy session and onnxruntime."""
    fast, numpy_session = _session(model, "1"), _session(model, "0")
    chosen = {}
    for partition in fast.get_provider_assignment():
        chosen.update(zip(partition.op_types, partition.kernels))
    assert {op: chosen.get(op) for op in kernels} == kernels
    got = fast.run(None, feeds)
    assert_outputs_match(got, numpy_session.run(None, feeds), rtol=rtol, atol=atol)
    assert_outputs_match(got, run_onnxruntime(model, feeds), rtol=max(rtol, 1e-5), atol=max(atol, 1e-5))


@pytest.mark.parametrize("op, attrs, kernel, opset", [
    ("Gelu", {}, "compiled:gelu", 20), ("Gelu", {"approximate": "tanh"}, "compiled:gelutanh", 20),
    ("Sigmoid", {}, "compiled:sigmoid", 13), ("Tanh", {}, "compiled:tanh", 13), ("Erf", {}, "compiled:erf", 13)])
def test_activations_run_compiled(op, attrs, kernel, opset):
    x = (RNG.standard_normal((3, 70, 33)) * 3).astype(np.float32)
    x.reshape(-1)[:SPECIAL.size] = SPECIAL
    model = single_node_model(op, {"x": x}, 1, opset=opset, **attrs)
    _check(model, {"x": x}, {op: kernel})


def test_other_types_keep_the_numpy_kernel():
    x = RNG.standard_normal((4, 5))
    model = single_node_model("Tanh", {"x": x}, 1, opset=13)
    assert _session(model, "1").get_provider_assignment()[0].kernels == ("numpy",)


def _linear(activation_nodes, bias_shape, x_shape=(2, 9, 24), width=40, gemm=False):
    w = (RNG.standard_normal((x_shape[-1], width)) * 0.3).astype(np.float32)
    b = RNG.standard_normal(bias_shape).astype(np.float32)
    product = helper.make_node("Gemm", ["x", "w", "b"], ["a"]) if gemm else None
    nodes = [product] if gemm else [helper.make_node("MatMul", ["x", "w"], ["m"]),
                                    helper.make_node("Add", ["m", "b"], ["a"])]
    graph = helper.make_graph(
        nodes + activation_nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model, {"x": (RNG.standard_normal(x_shape) * 2).astype(np.float32)}


@pytest.mark.parametrize("activation", ["Gelu", "Sigmoid"])
def test_epilogue_adds_the_bias_in_its_pass(activation):
    model, feeds = _linear([helper.make_node(activation, ["a"], ["y"])], (40,))
    _check(model, feeds, {"FusedMatMulBias": f"compiled:matmul+{activation.lower()}"})


def test_epilogue_takes_biases_along_the_last_axis_only():
    from onyx.ops.fast import activations

    apply = activations.epilogue("Gelu")
    y = RNG.standard_normal((3, 5, 8)).astype(np.float32)
    for bias in (RNG.standard_normal(8), RNG.standard_normal((1, 1, 8))):
        bias = bias.astype(np.float32)
        expected = REFERENCES["gelu32"]((y + bias).astype(np.float64))
        out = y.copy()
        assert apply(out, bias) is out
        np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-6)
    assert apply(y.copy(), RNG.standard_normal((5, 8)).astype(np.float32)) is None  # a row-wise bias: NumPy's
    assert apply(y.astype(np.float64), None) is None
    assert apply(y[:, :, ::2], None) is None  # not contiguous


def test_gemm_epilogue():
    model, feeds = _linear([helper.make_node("Tanh", ["a"], ["y"])], (40,), x_shape=(12, 24), gemm=True)
    _check(model, feeds, {"FusedGemm": "compiled:gemm+tanh"})


# -- attention -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows, masked", [(40, False), (3000, True)])  # 3000 rows: blocks of query rows
def test_attention_softmax_compiled(rows, masked):
    from onyx.ops import fused_attention

    q = RNG.standard_normal((2, rows, 16)).astype(np.float32)
    kt = RNG.standard_normal((2, 16, 50)).astype(np.float32)
    v = RNG.standard_normal((2, 50, 16)).astype(np.float32)
    mask = np.where(RNG.random((rows, 50)) < 0.2, -np.inf, 0).astype(np.float32) if masked else None
    if masked:
        mask[:, 0] = 0  # no row masked entirely: the finite path
    expected = fused_attention.attention(q, kt, v, mask, 0.25, 0)
    from onyx.ops.fast import softmax
    from onyx.ops.registry import NodeContext

    exp_rows = softmax.exp_rows(NodeContext(compiled=True))
    got = fused_attention.attention(q, kt, v, mask, 0.25, 0, exp_rows)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    reference = q.astype(np.float64) * 0.25 @ kt + (0 if mask is None else mask)
    reference = np.exp(reference - reference.max(-1, keepdims=True))
    np.testing.assert_allclose(got, reference / reference.sum(-1, keepdims=True) @ v, rtol=1e-4, atol=1e-5)
