"""Compiled kernels ([fast]) against the NumPy kernels they replace and onnxruntime: the same
one-node model in a session with compiled kernels and in one without, over geometries,
dtypes and attributes; and each node reports the kernel it got."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import onyx
from onyx import compiled
from oracle import assert_outputs_match, run_onnxruntime, single_node_model

pytestmark = pytest.mark.skipif(not compiled.installed(), reason="the [fast] extra (Numba) is not installed")

RNG = np.random.default_rng(0)


def _sessions(model) -> tuple[onyx.InferenceSession, onyx.InferenceSession]:
    data = model.SerializeToString()
    sessions = []
    for value in ("1", "0"):
        options = onyx.SessionOptions()
        options.add_session_config_entry(compiled.COMPILED_KERNELS_KEY, value)
        sessions.append(onyx.InferenceSession(data, options))
    return sessions[0], sessions[1]


def _compare(op: str, inputs: dict, kernel: str | None, *, opset: int = 17, domain: str = "", rtol=1e-5, atol=1e-6,
             outputs: int = 1, ort: bool = True, initializers: dict | None = None, **attrs) -> None:
    """The compiled session chose ``kernel`` (None: the NumPy kernel) and agrees with the NumPy
    session and onnxruntime."""
    extra = {domain: 1} if domain else None
    model = single_node_model(op, inputs, outputs, opset=opset, domain=domain, extra_opsets=extra,
                              initializers=initializers, infer_types=not domain, **attrs)
    fast, numpy_session = _sessions(model)
    assert fast.get_provider_assignment()[0].kernels == (kernel or "numpy",)
    assert numpy_session.get_provider_assignment()[0].kernels == ("numpy",)
    feeds = {k: v for k, v in inputs.items() if v is not None}
    got = fast.run(None, feeds)
    assert_outputs_match(got, numpy_session.run(None, feeds), rtol=rtol, atol=atol)
    if ort:
        assert_outputs_match(got, run_onnxruntime(model, feeds), rtol=max(rtol, 1e-5), atol=max(atol, 1e-5))


def _x(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


# -- pools -----------------------------------------------------------------------------------------

POOL_GEOMETRIES = [
    # kernel, strides, pads, dilations, ceil_mode, input (N, C, H, W)
    ([3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 0, (1, 4, 17, 15)),
    ([2, 2], [2, 2], [0, 0, 0, 0], [1, 1], 0, (2, 3, 16, 16)),
    ([3, 3], [2, 2], [0, 0, 0, 0], [1, 1], 1, (1, 2, 13, 13)),
    ([3, 2], [2, 3], [1, 0, 2, 1], [1, 1], 1, (1, 3, 12, 19)),
    ([2, 3], [2, 2], [1, 1, 0, 2], [2, 2], 0, (1, 2, 11, 14)),
    ([3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 0, (1, 2, 9, 70)),  # stride 1, wide rows
    ([1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 0, (1, 3, 8, 8)),
    ([5, 4], [3, 2], [2, 1, 2, 3], [1, 1], 1, (1, 2, 9, 10)),
]


@pytest.mark.parametrize("kernel_shape, strides, pads, dilations, ceil_mode, shape", POOL_GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool(kernel_shape, strides, pads, dilations, ceil_mode, shape, dtype):
    x = _x(*shape, dtype=dtype)
    _compare("MaxPool", {"x": x}, "compiled:max_pool_2d", kernel_shape=kernel_shape, strides=strides, pads=pads,
             dilations=dilations, ceil_mode=ceil_mode)


@pytest.mark.parametrize("kernel_shape, strides, pads, dilations, ceil_mode, shape", POOL_GEOMETRIES)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(kernel_shape, strides, pads, dilations, ceil_mode, shape, count_include_pad):
    _compare("AveragePool", {"x": _x(*shape)}, "compiled:average_pool_2d", opset=19, kernel_shape=kernel_shape,
             strides=strides, pads=pads, dilations=dilations, ceil_mode=ceil_mode,
             count_include_pad=count_include_pad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pools_with_auto_pad(op, auto_pad):
    name = "compiled:max_pool_2d" if op == "MaxPool" else "compiled:average_pool_2d"
    _compare(op, {"x": _x(1, 3, 11, 12)}, name, kernel_shape=[3, 3], strides=[2, 2], auto_pad=auto_pad, atol=1e-5)


def test_max_pool_propagates_nan_and_keeps_infinities():
    x = _x(1, 2, 8, 8)
    x[0, 0, 1, 1], x[0, 1, 4, 5], x[0, 1, 0, 0] = np.nan, np.inf, -np.inf
    _compare("MaxPool", {"x": x}, "compiled:max_pool_2d", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             ort=False)


def test_pools_the_compiled_kernels_do_not_cover_stay_numpy():
    _compare("MaxPool", {"x": _x(1, 2, 9, 9)}, None, kernel_shape=[3, 3], strides=[1, 1])  # narrow stride-1 rows
    _compare("MaxPool", {"x": _x(1, 2, 9)}, None, kernel_shape=[3], strides=[2])  # 1-D
    _compare("MaxPool", {"x": _x(1, 2, 6, 6)}, None, outputs=2, kernel_shape=[2, 2], strides=[2, 2])  # indices
    _compare("GlobalMaxPool", {"x": _x(1, 3, 5, 5)}, None)


def test_a_compiled_pool_runs_numpy_for_inputs_it_does_not_cover():
    """A model without declared shapes: the node is compiled, an int8 input falls back at run time."""
    model = single_node_model("MaxPool", {"x": np.zeros((1, 1, 4, 4), np.int8)}, opset=12, infer_types=False,
                              kernel_shape=[2, 2], strides=[2, 2])
    model.graph.input[0].type.tensor_type.ClearField("shape")
    fast, numpy_session = _sessions(model)
    assert fast.get_provider_assignment()[0].kernels == ("compiled:max_pool_2d",)
    x = RNG.integers(-100, 100, (2, 3, 8, 70)).astype(np.int8)
    np.testing.assert_array_equal(fast.run(None, {"x": x})[0], numpy_session.run(None, {"x": x})[0])


@pytest.mark.parametrize("shape", [(1, 64, 7, 7), (2, 3, 5, 4, 3), (1, 2, 33), (3, 5, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_average_pool(shape, dtype):
    _compare("GlobalAveragePool", {"x": _x(*shape, dtype=dtype, scale=3.0)}, "compiled:global_average_pool", atol=1e-5,
             ort=dtype == np.float32)  # onnxruntime has no float64 GlobalAveragePool


# -- LayerNormalization ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape, axis", [((2, 5, 16), -1), ((1, 7, 96), 2), ((3, 4, 6), 1), ((4, 10), -1), ((1, 1, 1), -1)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_normalization(shape, axis, with_bias):
    width = shape[axis:] if axis >= 0 else shape[axis:]
    x = _x(*shape, scale=2.0) + 1.5
    scale = _x(*width)
    bias = _x(*width) if with_bias else None
    _compare("LayerNormalization", {"x": x}, "compiled:layer_norm", outputs=3, axis=axis, epsilon=1e-3,
             initializers={"scale": scale, "b": bias} if with_bias else {"scale": scale}, atol=1e-5)


def test_layer_normalization_for_older_opsets_and_other_types():
    x, scale, bias = _x(2, 3, 8), _x(8), _x(8)
    _compare("LayerNormalization", {"x": x}, "compiled:layer_norm", domain="ai.onyx",
             initializers={"scale": scale, "b": bias}, ort=False)
    _compare("LayerNormalization", {"x": x.astype(np.float64)}, "compiled:layer_norm", outputs=3,
             initializers={"scale": scale.astype(np.float64), "b": bias.astype(np.float64)})  # float64: NumPy at run time


# -- Softmax and LogSoftmax ------------------------------------------------------------------------


@pytest.mark.parametrize("op, name", [("Softmax", "compiled:softmax"), ("LogSoftmax", "compiled:log_softmax")])
@pytest.mark.parametrize("shape, dtype", itertools.product([(1, 1000), (2, 3, 17), (4, 1), (3, 2, 5, 64)],
                                                           [np.float32, np.float64]))
def test_softmax_over_the_last_axis(op, name, shape, dtype):
    _compare(op, {"x": _x(*shape, dtype=dtype, scale=5.0)}, name, opset=13, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, name", [("Softmax", "compiled:softmax"), ("LogSoftmax", "compiled:log_softmax")])
def test_softmax_edge_values_and_other_axes(op, name):
    x = _x(2, 3, 6)
    x[0, 0, 2], x[0, 1, :] = np.inf, -np.inf
    x[1, 2, 3] = np.nan
    _compare(op, {"x": x}, name, opset=13, ort=False)
    _compare(op, {"x": _x(2, 3, 6)}, name, opset=13, axis=1)  # another axis: NumPy at run time
    _compare(op, {"x": _x(2, 3, 6)}, None, opset=11, axis=1)  # the opset-1 form stays NumPy
