"""Every convolution algorithm (onyx.ops.conv_algorithms), forced on every geometry it applies to,
against the spec-shaped reference convolution (tests/conv_reference.py); the choice made once
per node; weights prepared once per node."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from conv_reference import reference_conv
from onyx.ops import conv as conv_module
from onyx.ops import conv_algorithms
from onyx.ops.conv_algorithms import ALGORITHMS, ConvGeometry, choose_algorithm, run_algorithm

# (name, x shape, w shape, attributes)
GEOMETRIES = [
    ("1d", (2, 4, 11), (6, 4, 3), {"pads": [1, 2]}),
    ("1d-strided-dilated", (2, 4, 13), (6, 2, 3), {"group": 2, "strides": [2], "dilations": [2], "pads": [2, 0]}),
    ("2d-3x3", (2, 5, 9, 8), (7, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("2d-3x3-odd-tiles", (1, 3, 7, 5), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("2d-3x3-asymmetric-pads", (2, 4, 10, 9), (6, 4, 3, 3), {"pads": [0, 2, 1, 0]}),
    ("2d-3x3-unpadded", (1, 4, 12, 12), (5, 4, 3, 3), {}),
    ("2d-same-upper", (1, 3, 7, 6), (5, 3, 3, 3), {"auto_pad": "SAME_UPPER"}),
    ("2d-same-lower-strided", (1, 3, 7, 6), (5, 3, 2, 4), {"auto_pad": "SAME_LOWER", "strides": [2, 1]}),
    ("2d-valid", (2, 3, 8, 7), (5, 3, 3, 2), {"auto_pad": "VALID"}),
    ("2d-grouped-strided", (2, 6, 9, 9), (9, 2, 2, 3), {"group": 3, "strides": [2, 1], "pads": [1, 0, 0, 1]}),
    ("2d-depthwise", (2, 6, 9, 10), (6, 1, 3, 3), {"group": 6, "pads": [1, 1, 1, 1]}),
    ("2d-depthwise-multiplier-dilated", (1, 4, 12, 11), (8, 1, 5, 5), {"group": 4, "dilations": [2, 1],
                                                                       "pads": [4, 2, 4, 2]}),
    ("2d-depthwise-strided", (2, 4, 9, 9), (4, 1, 3, 3), {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("2d-narrowing", (2, 24, 7, 6), (4, 24, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("2d-1x1-widening", (2, 3, 5, 6), (8, 3, 1, 1), {}),
    ("2d-1x1-strided-padded", (2, 8, 9, 9), (4, 8, 1, 1), {"strides": [2, 3], "pads": [1, 0, 1, 1]}),
    ("2d-1x1-grouped", (2, 8, 5, 5), (12, 2, 1, 1), {"group": 4}),
    ("3d", (2, 3, 5, 6, 5), (4, 3, 2, 3, 3), {"pads": [1, 0, 1, 0, 1, 1]}),
    ("3d-depthwise-strided", (1, 4, 7, 6, 6), (4, 1, 3, 3, 3), {"group": 4, "strides": [2, 1, 2],
                                                                 "pads": [1, 1, 1, 1, 1, 1]}),
]
CASES = [(geometry, name) for geometry in GEOMETRIES for name in ALGORITHMS
         if ALGORITHMS[name].applies(ConvGeometry.of(geometry[1], geometry[2], **geometry[3]))]
# float32 agreement with the float64 definition, relative to the output's largest magnitude; Winograd
# F(4x4, 3x3)'s transforms (coefficients up to 8) round more than a direct sum
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-6}
WINOGRAD_4X4_FLOAT32 = 1e-5


@functools.cache
def _data(name: str, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    _, x_shape, w_shape, attrs = next(g for g in GEOMETRIES if g[0] == name)
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b, reference_conv(x, w, b, **attrs)


def _tolerance(algorithm: str, dtype: type) -> float:
    return WINOGRAD_4X4_FLOAT32 if algorithm == "winograd-4x4" and dtype == np.float32 else TOLERANCE[dtype]


def test_every_algorithm_is_tested_somewhere():
    assert {name for _, name in CASES} == set(ALGORITHMS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("geometry", "algorithm"), CASES, ids=[f"{g[0]}-{a}" for g, a in CASES])
def test_algorithm_matches_the_reference(geometry, algorithm, dtype):
    name, _, _, attrs = geometry
    x, w, b, expected = _data(name, dtype)
    g = ConvGeometry.of(x.shape, w.shape, **attrs)
    chosen = ALGORITHMS[algorithm]
    for bias in (b, None):
        y = run_algorithm(chosen, x, chosen.prepare(w, bias, g), g)
        assert y.dtype == dtype and y.shape == expected.shape and y.flags.c_contiguous
        want = expected if bias is not None else expected - b.astype(np.float64).reshape((-1,) + (1,) * (x.ndim - 2))
        np.testing.assert_allclose(y, want, rtol=0, atol=_tolerance(algorithm, dtype) * np.abs(want).max())


def _conv_model(x_shape, w: np.ndarray, b: np.ndarray | None, declared_x_shape, fused: str = "", **attrs) -> bytes:
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if b is not None else [])
    inputs = ["x", "w"] + (["b"] if b is not None else [])
    if fused:
        node = helper.make_node("FusedConv", inputs, ["y"], domain="ai.onyx", activation=fused, **attrs)
    else:
        node = helper.make_node("Conv", inputs, ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, declared_x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    opsets = [helper.make_opsetid("", 19)] + ([helper.make_opsetid("ai.onyx", 1)] if fused else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9
    return model.SerializeToString()


def _conv_steps(session: onyx.InferenceSession) -> list:
    return [step.fn for step in session._plan.steps if hasattr(step.fn, "kernel_name")]


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_a_forced_algorithm_runs_in_a_session_with_weights_prepared_at_creation(monkeypatch, algorithm):
    name = {"gemm-1x1": "2d-1x1-widening", "depthwise-rows": "2d-depthwise", "shifted": "2d-narrowing",
            "grouped-direct": "2d-depthwise-strided"}.get(algorithm, "2d-3x3-asymmetric-pads")
    _, x_shape, w_shape, attrs = next(g for g in GEOMETRIES if g[0] == name)
    x, w, b, expected = _data(name, np.float32)
    monkeypatch.setattr(conv_module, "choose_algorithm", lambda geometry, compiled=False: algorithm)
    prepared = []
    original = ALGORITHMS[algorithm].prepare
    monkeypatch.setitem(ALGORITHMS, algorithm, conv_algorithms.Algorithm(
        algorithm, ALGORITHMS[algorithm].applies, lambda *a: prepared.append(1) or original(*a),
        ALGORITHMS[algorithm].run))
    session = onyx.InferenceSession(_conv_model(x_shape, w, b, ["N", *x_shape[1:]], **attrs))
    assert len(prepared) == 1  # at creation, from the declared input shape
    (step,) = _conv_steps(session)
    assert step.kernel_name == f"conv:{algorithm}"
    for _ in range(2):
        (y,) = session.run(None, {"x": x})
        np.testing.assert_allclose(y, expected, rtol=0, atol=_tolerance(algorithm, np.float32) * np.abs(expected).max())
    assert len(prepared) == 1


def test_without_a_declared_shape_the_choice_waits_for_the_first_run_of_each_shape():
    _, x_shape, w_shape, attrs = next(g for g in GEOMETRIES if g[0] == "2d-3x3")
    x, w, b, expected = _data("2d-3x3", np.float32)
    session = onyx.InferenceSession(_conv_model(x_shape, w, b, None, **attrs))
    (step,) = _conv_steps(session)
    assert "first run" in step.kernel_name
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    g = ConvGeometry.of(x.shape, w.shape, **attrs)
    assert step.kernel_name == ALGORITHMS[choose_algorithm(g)].kernel_name


def test_fused_conv_is_prepared_and_names_its_algorithm():
    _, x_shape, w_shape, attrs = next(g for g in GEOMETRIES if g[0] == "2d-3x3-odd-tiles")
    x, w, b, expected = _data("2d-3x3-odd-tiles", np.float32)
    session = onyx.InferenceSession(_conv_model(x_shape, w, b, list(x_shape), fused="Relu", **attrs))
    (step,) = _conv_steps(session)
    assert step.kernel_name.startswith("conv:")
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, np.maximum(expected, 0), rtol=0, atol=1e-5 * np.abs(expected).max())


def test_a_fed_weight_is_prepared_on_every_run():
    """A weight that is a graph input may change between runs: nothing derived from it is kept."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in
         (("x", [1, 3, 6, 6]), ("w", [4, 3, 3, 3]), ("b", [4]))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    session = onyx.InferenceSession(model.SerializeToString())
    for _ in range(3):
        w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
        b = rng.standard_normal(4).astype(np.float32)
        (y,) = session.run(None, {"x": x, "w": w, "b": b})
        np.testing.assert_allclose(y, reference_conv(x, w, b, pads=[1, 1, 1, 1]), rtol=1e-5, atol=1e-5)


def test_integer_convolutions_never_take_winograd():
    g = ConvGeometry.of((1, 64, 56, 56), (64, 64, 3, 3), pads=[1, 1, 1, 1])
    assert not choose_algorithm(g, exact=True).startswith("winograd")


@pytest.mark.parametrize(("geometry", "expected"), [
    (((1, 64, 56, 56), (64, 64, 1, 1), {}), "gemm-1x1"),
    (((1, 256, 14, 14), (64, 256, 3, 3), {"pads": [1, 1, 1, 1]}), "shifted"),
    (((1, 96, 56, 56), (96, 1, 7, 7), {"group": 96, "pads": [3, 3, 3, 3]}), "depthwise-rows"),
    (((1, 64, 56, 56), (128, 64, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}), "im2col"),
    (((1, 64, 56, 56), (64, 64, 3, 3), {"pads": [1, 1, 1, 1]}), "im2col"),
    (((1, 128, 28, 28), (128, 128, 3, 3), {"pads": [1, 1, 1, 1]}), "winograd-4x4"),
    (((1, 256, 14, 14), (256, 256, 3, 3), {"pads": [1, 1, 1, 1]}), "im2col"),
    (((1, 512, 14, 14), (512, 512, 3, 3), {"pads": [1, 1, 1, 1]}), "winograd-2x2"),
    (((1, 512, 28, 28), (512, 512, 3, 3), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}), "im2col"),
])
def test_the_choice_follows_the_geometry(geometry, expected):
    assert choose_algorithm(ConvGeometry.of(geometry[0], geometry[1], **geometry[2])) == expected


@pytest.mark.parametrize(("strides", "expected"), [([1, 1], "depthwise-rows"), ([2, 2], "grouped-direct")])
def test_compiled_sessions_sum_strided_depthwise_convolutions_directly(monkeypatch, strides, expected):
    from onyx.ops import conv_compiled

    monkeypatch.setattr(conv_compiled, "available", lambda: True)
    g = ConvGeometry.of((1, 32, 112, 112), (32, 1, 3, 3), group=32, strides=strides, pads=[1, 1, 1, 1])
    assert choose_algorithm(g, compiled=True) == expected
