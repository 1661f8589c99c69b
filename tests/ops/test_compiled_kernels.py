"""Compiled kernels ([fast]) against the NumPy kernels they replace and onnxruntime: the same
one-node model in a session with compiled kernels and in one without, over geometries,
dtypes and attributes; and each node reports the kernel it got."""

from __future__ import annotations


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


def test_declared_types_decide_what_is_compiled():
    _compare("LayerNormalization", {"x": _x(2, 8, dtype=np.float64)}, None, outputs=3,
             initializers={"scale": _x(8, dtype=np.float64)})


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


def test_layer_normalization_for_older_opsets():
    x, scale, bias = _x(2, 3, 8), _x(8), _x(8)
    _compare("LayerNormalization", {"x": x}, "compiled:layer_norm", domain="ai.onyx",
             initializers={"scale": scale, "b": bias}, ort=False)


# -- elementwise chains ----------------------------------------------------------------------------


def _chain_model(nodes, inputs: dict, constants: dict, opset: int = 17):
    from onnx import helper, numpy_helper
    from oracle import elem_type

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, elem_type(v.dtype), v.shape) for n, v in inputs.items()],
        [helper.make_tensor_value_info("y", elem_type(next(iter(inputs.values())).dtype), None)],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _node(op, inputs, output, **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, [output], **attrs)


def _compare_chain(nodes, inputs, constants, kernel, *, opset=17, ort=True, rtol=1e-5, atol=1e-6):
    model = _chain_model(nodes, inputs, constants, opset)
    fast, numpy_session = _sessions(model)
    kernels = [k for p in fast.get_provider_assignment() if "/" not in p.graph for k in p.kernels]
    assert kernel in kernels if kernel else all(not k.startswith("compiled:elementwise") for k in kernels)
    assert all(not k.startswith("compiled") for p in numpy_session.get_provider_assignment() for k in p.kernels)
    got = fast.run(None, inputs)
    assert_outputs_match(got, numpy_session.run(None, inputs), rtol=rtol, atol=atol)
    if ort:
        assert_outputs_match(got, run_onnxruntime(model, inputs), rtol=max(rtol, 1e-5), atol=max(atol, 1e-5))
    return fast


@pytest.mark.parametrize("shape", [(1, 8, 7, 9), (3, 1000), (5,), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_is_one_compiled_loop(shape, dtype):
    x = _x(*shape, dtype=dtype, scale=6.0)
    _compare_chain([_node("Sigmoid", ["x"], "s"), _node("Mul", ["x", "s"], "y")], {"x": np.asarray(x)}, {},
                   "compiled:elementwise(Sigmoid,Mul)")


F32 = np.float32
CHAINS = [
    # nodes, constants, kernel name
    ([_node("Mul", ["x", "beta"], "b"), _node("Sigmoid", ["b"], "s"), _node("Mul", ["x", "s"], "y")],
     {"beta": F32(1.702)}, "compiled:elementwise(Mul,Sigmoid,Mul)"),
    ([_node("Sigmoid", ["x"], "s"), _node("Add", ["s", "three"], "a"), _node("Clip", ["a", "lo", "hi"], "c"),
      _node("Div", ["c", "six"], "d"), _node("Sub", ["d", "x"], "y")],
     {"three": F32(3), "lo": F32(0), "hi": F32(6), "six": F32(6)}, "compiled:elementwise(Sigmoid,Add,Clip,Div,Sub)"),
    ([_node("Sigmoid", ["x"], "s"), _node("LeakyRelu", ["s"], "l", alpha=0.3), _node("HardSigmoid", ["l"], "h"),
      _node("Relu", ["h"], "r"), _node("HardSwish", ["r"], "y")], {},
     "compiled:elementwise(Sigmoid,LeakyRelu,HardSigmoid,Relu,HardSwish)"),
    ([_node("Abs", ["x"], "a"), _node("Pow", ["a", "p2"], "b"), _node("Pow", ["b", "p3"], "c"),
      _node("Pow", ["c", "half"], "d"), _node("Pow", ["d", "odd"], "e"), _node("Sigmoid", ["e"], "f"),
      _node("Neg", ["f"], "g"), _node("Reciprocal", ["g"], "y")],
     {"p2": F32(2), "p3": np.int64(3), "half": F32(0.5), "odd": F32(1.7)},
     "compiled:elementwise(Abs,Pow,Pow,Pow,Pow,Sigmoid,Neg,Reciprocal)"),
    ([_node("Exp", ["x"], "e"), _node("Add", ["e", "one"], "a"), _node("Log", ["a"], "l"), _node("Sqrt", ["l"], "y")],
     {"one": F32(1)}, "compiled:elementwise(Exp,Add,Log,Sqrt)"),
    ([_node("Clip", ["x"], "y")], {}, None),  # alone and cheap in NumPy: not fused
    ([_node("Add", ["x", "one"], "a"), _node("Relu", ["a"], "y")], {"one": F32(1)}, None),  # plain arithmetic
]


@pytest.mark.parametrize("nodes, constants, kernel", CHAINS)
def test_elementwise_chains(nodes, constants, kernel):
    x = _x(2, 3, 50, scale=3.0)
    _compare_chain(nodes, {"x": x}, constants, kernel)


def test_clip_bounds_of_opset_10_attributes_and_absent_inputs():
    nodes = [_node("Sigmoid", ["x"], "s"), _node("Clip", ["s"], "c", min=0.2, max=0.7), _node("Mul", ["c", "x"], "y")]
    _compare_chain(nodes, {"x": _x(4, 9, scale=3.0)}, {}, "compiled:elementwise(Sigmoid,Clip,Mul)", opset=10)
    nodes = [_node("Sigmoid", ["x"], "s"), _node("Clip", ["s", "", "hi"], "y")]
    _compare_chain(nodes, {"x": _x(4, 9, scale=3.0)}, {"hi": F32(0.6)}, "compiled:elementwise(Sigmoid,Clip)")


def test_two_inputs_of_one_shape_run_the_loop_and_broadcast_ones_the_body():
    nodes = [_node("Sigmoid", ["g"], "s"), _node("Mul", ["x", "s"], "y")]
    fast = _compare_chain(nodes, {"x": _x(3, 40), "g": _x(3, 40)}, {}, "compiled:elementwise(Sigmoid,Mul)")
    x, g = _x(3, 40), _x(1, 40)
    model = _chain_model(nodes, {"x": x, "g": g}, {})
    model.graph.input[1].type.tensor_type.shape.dim[0].dim_value = 1
    fast, numpy_session = _sessions(model)
    # the body's Sigmoid is compiled too (onyx.ops.fast.activations): equal within rounding
    np.testing.assert_allclose(fast.run(None, {"x": x, "g": g})[0], numpy_session.run(None, {"x": x, "g": g})[0],
                               rtol=1e-6)


def test_nan_and_infinities_go_through_a_chain_as_through_numpy():
    x = _x(3, 8)
    x[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
    nodes = [_node("Sigmoid", ["x"], "s"), _node("Relu", ["s"], "r"), _node("Clip", ["r", "lo", "hi"], "c"),
             _node("Mul", ["c", "x"], "y")]
    _compare_chain(nodes, {"x": x}, {"lo": F32(0.1), "hi": F32(0.9)}, "compiled:elementwise(Sigmoid,Relu,Clip,Mul)",
                   ort=False)


def test_a_value_read_outside_the_chain_ends_it():
    from onnx import helper

    nodes = [_node("Sigmoid", ["x"], "s"), _node("Mul", ["x", "s"], "m"), _node("Sigmoid", ["m"], "t"),
             _node("Mul", ["m", "t"], "y")]
    model = _chain_model(nodes, {"x": _x(2, 5)}, {})
    model.graph.output.append(helper.make_tensor_value_info("m", 1, None))  # m is a graph output now
    fast, numpy_session = _sessions(model)
    kernels = fast.get_provider_assignment()[0].kernels
    assert kernels == ("compiled:elementwise(Sigmoid,Mul)", "compiled:elementwise(Sigmoid,Mul)")
    feeds = {"x": _x(2, 5)}
    assert_outputs_match(fast.run(None, feeds), numpy_session.run(None, feeds))


def test_a_saved_optimized_model_has_the_chain_back_as_standard_operators(tmp_path):
    import onnx

    nodes = [_node("Sigmoid", ["x"], "s"), _node("Mul", ["x", "s"], "y")]
    model = _chain_model(nodes, {"x": _x(2, 5)}, {})
    options = onyx.SessionOptions()
    options.add_session_config_entry(compiled.COMPILED_KERNELS_KEY, "1")
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onyx.InferenceSession(model.SerializeToString(), options)
    saved = onnx.load(str(tmp_path / "optimized.onnx"))
    assert [n.op_type for n in saved.graph.node] == ["Sigmoid", "Mul"]
    x = _x(2, 5)
    assert_outputs_match(run_onnxruntime(saved, {"x": x}), onyx.InferenceSession(model.SerializeToString()).run(None, {"x": x}))


def test_a_window_over_the_whole_input_averages_as_numpy_does():
    """One window covering the input: the NumPy kernel's global mean, bit for bit (logits near 1e9
    are equal only in its summation order)."""
    x = (_x(1, 6, 13, 13) + 1e9).astype(np.float32)
    model = single_node_model("AveragePool", {"x": x}, opset=11, kernel_shape=[13, 13])
    fast, numpy_session = _sessions(model)
    np.testing.assert_array_equal(fast.run(None, {"x": x})[0], numpy_session.run(None, {"x": x})[0])
