"""The graph optimizer: each pass fires on its pattern and never changes results."""

from __future__ import annotations

import collections
import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.model import load_model
from onyx.optimizer import optimize
from onyx.options import GraphOptimizationLevel as Level

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def init(name: str, value) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name))


def make_model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def vi(name: str, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def session(model, level=Level.ORT_ENABLE_ALL, path: str = "") -> onyx.InferenceSession:
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    options.optimized_model_filepath = path
    return onyx.InferenceSession(model.SerializeToString(), options)


def op_counts(sess: onyx.InferenceSession) -> collections.Counter:
    return collections.Counter(n.op_type for n in sess._model.graph.nodes)


def check(model, feeds, tmp_path=None, use_ort=True, rtol=1e-5, atol=1e-6) -> collections.Counter:
    """Outputs with and without optimization agree (and with onnxruntime); returns the optimized op counts."""
    path = str(tmp_path / "optimized.onnx") if tmp_path is not None else ""
    plain = session(model, Level.ORT_DISABLE_ALL).run(None, feeds)
    optimized_session = session(model, Level.ORT_ENABLE_ALL, path)
    optimized = optimized_session.run(None, feeds)
    for a, b in zip(plain, optimized):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    if use_ort:
        expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
        for a, b in zip(expected, optimized):
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    if path:
        saved = onnx.load(path)
        onnx.checker.check_model(saved)
        reloaded = onyx.InferenceSession(path).run(None, feeds)
        for a, b in zip(optimized, reloaded):
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    return op_counts(optimized_session)


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# -- basic passes -----------------------------------------------------------------------


def test_constant_folding_turns_constant_subgraphs_into_initializers():
    nodes = [
        const("c", np.float32(2.0)),
        helper.make_node("Mul", ["w", "c"], ["w2"]),
        helper.make_node("Transpose", ["w2"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["y"]),
    ]
    model = make_model(nodes, [vi("x", [2, 3])], [vi("y", [2, 4])], [init("w", randn(4, 3))])
    counts = check(model, {"x": randn(2, 3)})
    assert counts == {"MatMul": 1}


def test_constant_folding_skips_random_and_huge_results():
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"], value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("RandomNormal", [], ["r"], shape=[2], seed=1.0),
        helper.make_node("Mul", ["r", "zero"], ["r0"]),
        helper.make_node("Add", ["x", "total"], ["y0"]),
        helper.make_node("Add", ["y0", "r0"], ["y"]),
    ]
    inits = [init("shape", np.array([5000, 5000], np.int64)), init("zero", np.zeros(2, np.float32))]
    model = make_model(nodes, [vi("x", [2])], [vi("y", [2])], inits)
    optimized, _ = optimize(load_model(model.SerializeToString()), Level.ORT_ENABLE_ALL)
    counts = collections.Counter(n.op_type for n in optimized.graph.nodes)
    assert counts["ConstantOfShape"] == 1 and counts["RandomNormal"] == 1


def test_overridable_initializers_are_not_folded():
    nodes = [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Add", ["x", "ab"], ["y"])]
    graph = helper.make_graph(nodes, "g", [vi("x", [2]), vi("a", [2])], [vi("y", [2])],
                              [init("a", np.ones(2, np.float32)), init("b", np.full(2, 3, np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = session(model)
    x = np.zeros(2, np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [3, 3])
    np.testing.assert_array_equal(sess.run(None, {"x": x, "a": np.full(2, 2, np.float32)})[0], [6, 6])


def test_add_initializer_overrides_apply_before_folding():
    nodes = [helper.make_node("Mul", ["b", "b"], ["bb"]), helper.make_node("Add", ["x", "bb"], ["y"])]
    model = make_model(nodes, [vi("x", [2])], [vi("y", [2])], [init("b", np.ones(2, np.float32))])
    options = onyx.SessionOptions()
    options.add_initializer("b", np.full(2, 3, np.float32))
    out = onyx.InferenceSession(model.SerializeToString(), options).run(None, {"x": np.zeros(2, np.float32)})
    np.testing.assert_array_equal(out[0], [9, 9])


def test_dead_code_elimination_drops_unread_nodes():
    nodes = [helper.make_node("Relu", ["x"], ["unused"]), helper.make_node("Neg", ["unused"], ["also_unused"]),
             helper.make_node("Abs", ["x"], ["y"])]
    model = make_model(nodes, [vi("x", [3])], [vi("y", [3])])
    assert check(model, {"x": randn(3)}) == {"Abs": 1}


def test_identity_elimination_keeps_graph_output_names():
    nodes = [
        helper.make_node("Identity", ["x"], ["i1"]),
        helper.make_node("Dropout", ["i1"], ["d"]),
        helper.make_node("Cast", ["d"], ["c"], to=F),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Identity", ["r"], ["y"]),
        helper.make_node("Identity", ["r"], ["z"]),
    ]
    model = make_model(nodes, [vi("x", [4])], [vi("y", [4]), vi("z", [4])])
    sess = session(model)
    assert [o.name for o in sess.get_outputs()] == ["y", "z"]
    assert op_counts(sess) == {"Relu": 1, "Identity": 1}
    check(model, {"x": randn(4)})


def test_cast_to_another_type_is_kept():
    nodes = [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT64)]
    model = make_model(nodes, [vi("x", [4])], [vi("y", [4], TensorProto.INT64)])
    assert op_counts(session(model)) == {"Cast": 1}


def test_common_subexpressions_are_computed_once():
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["a"]),
        helper.make_node("Mul", ["x", "two_again"], ["b"]),
        helper.make_node("Relu", ["a"], ["ra"]),
        helper.make_node("Relu", ["b"], ["rb"]),
        helper.make_node("Sub", ["ra", "rb"], ["y"]),
    ]
    inits = [init("two", np.float32(2)), init("two_again", np.float32(2))]
    model = make_model(nodes, [vi("x", [4])], [vi("y", [4])], inits)
    assert check(model, {"x": randn(4)}) == {"Mul": 1, "Relu": 1, "Sub": 1}


def test_shape_folding_uses_static_shapes():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Size", ["r"], ["n"]),
        helper.make_node("Gather", ["s", "first"], ["batch"]),
        helper.make_node("Unsqueeze", ["batch", "zero"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["r", "target"], ["y"]),
        helper.make_node("Cast", ["n"], ["nf"], to=F),
        helper.make_node("Mul", ["y", "nf"], ["out"]),
    ]
    inits = [init("zero", np.array([0], np.int64)), init("minus_one", np.array([-1], np.int64)),
             init("first", np.array(0, np.int64))]
    model = make_model(nodes, [vi("x", [2, 3, 4])], [vi("out", [2, 12])], inits)
    assert check(model, {"x": randn(2, 3, 4)}) == {"Relu": 1, "Reshape": 1, "Mul": 1}


def test_basic_level_does_not_fuse_and_input_model_is_untouched():
    model = _matmul_bias_act_model("Relu", {})
    loaded = load_model(model.SerializeToString())
    before = [(n.op_type, list(n.inputs), list(n.outputs)) for n in loaded.graph.nodes]
    basic, reports = optimize(loaded, Level.ORT_ENABLE_BASIC)
    assert {n.op_type for n in basic.graph.nodes} == {"MatMul", "Add", "Relu"}
    assert [r.name for r in reports][:2] == ["identity_elimination", "constant_folding"]
    full, reports = optimize(loaded, Level.ORT_ENABLE_ALL)
    assert [n.op_type for n in full.graph.nodes] == ["FusedMatMulBias"]
    assert any(r.name == "matmul_bias_fusion" and r.nodes_after < r.nodes_before for r in reports)
    assert [(n.op_type, list(n.inputs), list(n.outputs)) for n in loaded.graph.nodes] == before
    assert "ai.onyx" not in loaded.opset
    assert optimize(loaded, Level.ORT_DISABLE_ALL) == (loaded, [])


# -- MatMul / Gemm / Conv fusions ---------------------------------------------------------

ACTIVATIONS = [
    ("Relu", {}, []),
    ("LeakyRelu", {"alpha": 0.2}, []),
    ("Sigmoid", {}, []),
    ("Tanh", {}, []),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, []),
    ("Clip", {}, ["lo", "hi"]),
]


def _matmul_bias_act_model(act: str, attrs: dict, extra=(), opset=17) -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["bias", "m"], ["a"]),
        helper.make_node(act, ["a", *extra], ["y"], **attrs),
    ]
    inits = [init("w", randn(8, 5)), init("bias", randn(5)), init("lo", np.float32(-0.5)), init("hi", np.float32(0.7))]
    return make_model(nodes, [vi("x", [2, 3, 8])], [vi("y", [2, 3, 5])], inits[:3 + len(extra)], opset)


@pytest.mark.parametrize("act,attrs,extra", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_matmul_bias_activation_fusion(act, attrs, extra, tmp_path):
    model = _matmul_bias_act_model(act, attrs, extra)
    assert check(model, {"x": randn(2, 3, 8)}, tmp_path) == {"FusedMatMulBias": 1}


def test_gemm_activation_fusion(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1, alpha=0.5),
             helper.make_node("LeakyRelu", ["g"], ["y"], alpha=0.1)]
    model = make_model(nodes, [vi("x", [4, 6])], [vi("y", [4, 3])], [init("w", randn(3, 6)), init("c", randn(3))])
    assert check(model, {"x": randn(4, 6)}, tmp_path) == {"FusedGemm": 1}


def _conv_model(tail: list, tail_inits=(), opset=17) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])] + tail
    inits = [init("w", randn(4, 3, 3, 3))] + list(tail_inits)
    return make_model(nodes, [vi("x", [1, 3, 6, 6]), vi("r", [1, 4, 6, 6])], [vi("y", [1, 4, 6, 6])], inits, opset)


def test_conv_batchnorm_folding(tmp_path):
    bn = [init(n, v) for n, v in [("s", randn(4)), ("b", randn(4)), ("m", randn(4)), ("v", np.abs(randn(4)) + 0.5)]]
    model = _conv_model([helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], epsilon=1e-3),
                         helper.make_node("Identity", ["r"], ["unused"])], bn)
    assert check(model, {"x": randn(1, 3, 6, 6), "r": randn(1, 4, 6, 6)}, tmp_path, rtol=1e-4, atol=1e-5) == {"Conv": 1}


def test_conv_bias_residual_activation_fusion(tmp_path):
    tail = [helper.make_node("Add", ["c", "cb"], ["cb_out"]), helper.make_node("Add", ["cb_out", "r"], ["s"]),
            helper.make_node("Clip", ["s", "lo", "hi"], ["y"])]
    inits = [init("cb", randn(4, 1, 1)), init("lo", np.float32(0)), init("hi", np.float32(6))]
    model = _conv_model(tail, inits)
    assert check(model, {"x": randn(1, 3, 6, 6), "r": randn(1, 4, 6, 6)}, tmp_path, rtol=1e-4, atol=1e-5) == {"FusedConv": 1}


@pytest.mark.parametrize("tail", ["Relu", "Clip", "LeakyRelu", "residual+Relu", "none"])
def test_fused_conv_finishing_a_cropped_grid(tail, tmp_path):
    """A 3x3 convolution over a wide map computes on the padded grid; FusedConv's last pass crops
    it while adding the residual or clipping, or crops and then applies the activation."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])]
    inits = [init("w", randn(20, 3, 3, 3)), init("b", randn(20))]
    last = "c"
    if tail.startswith("residual"):
        nodes.append(helper.make_node("Add", ["c", "r"], ["s"]))
        last = "s"
    if tail.endswith("Relu") and tail != "LeakyRelu":
        nodes.append(helper.make_node("Relu", [last], ["y"]))
    elif tail == "Clip":
        nodes.append(helper.make_node("Clip", [last, "lo", "hi"], ["y"]))
        inits += [init("lo", np.float32(0)), init("hi", np.float32(1))]
    elif tail == "LeakyRelu":
        nodes.append(helper.make_node("LeakyRelu", [last], ["y"], alpha=0.1))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    model = make_model(nodes, [vi("x", [1, 3, 24, 24]), vi("r", [1, 20, 24, 24])], [vi("y", [1, 20, 24, 24])], inits)
    counts = check(model, {"x": randn(1, 3, 24, 24), "r": randn(1, 20, 24, 24)}, tmp_path, rtol=1e-4, atol=1e-5)
    assert counts["FusedConv"] + counts["Conv"] == 1


def test_fused_depthwise_conv_with_clip_on_a_cropped_grid(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], group=6),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    inits = [init("w", randn(6, 1, 3, 3)), init("b", randn(6)), init("lo", np.float32(0)), init("hi", np.float32(6))]
    model = make_model(nodes, [vi("x", [1, 6, 30, 30])], [vi("y", [1, 6, 30, 30])], inits)
    assert check(model, {"x": randn(1, 6, 30, 30)}, tmp_path, rtol=1e-4, atol=1e-5) == {"FusedConv": 1}


def test_pad_folds_into_conv():
    nodes = [helper.make_node("Pad", ["x", "pads", "zero"], ["p"]),
             helper.make_node("Conv", ["p", "w"], ["y"])]
    inits = [init("pads", np.array([0, 0, 1, 2, 0, 0, 1, 0], np.int64)), init("zero", np.float32(0)),
             init("w", randn(4, 3, 3, 3))]
    model = make_model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", [1, 4, 6, 6])], inits)
    assert check(model, {"x": randn(1, 3, 6, 6)}, rtol=1e-4, atol=1e-5) == {"Conv": 1}


# -- transformer patterns ------------------------------------------------------------------


def _layer_norm_nodes(x: str, y: str) -> list:
    axes = {"axes": [-1]}
    return [
        helper.make_node("ReduceMean", [x], ["mean"], **axes),
        helper.make_node("Sub", [x, "mean"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], **axes),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["norm"]),
        helper.make_node("Mul", ["norm", "gamma"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], [y]),
    ]


@pytest.mark.parametrize("opset,domain", [(17, ""), (13, "ai.onyx")])
def test_layer_norm_fusion(opset, domain, tmp_path):
    inits = [init("two", np.float32(2)), init("eps", np.float32(1e-5)), init("gamma", randn(16)), init("beta", randn(16))]
    model = make_model(_layer_norm_nodes("x", "y"), [vi("x", [2, 5, 16])], [vi("y", [2, 5, 16])], inits, opset)
    counts = check(model, {"x": randn(2, 5, 16)}, tmp_path, rtol=1e-4, atol=1e-5)
    assert counts == {"LayerNormalization": 1}
    assert session(model)._model.graph.nodes[0].domain == domain


def _gelu_nodes(x: str, y: str, form: str) -> list:
    if form == "erf":
        head = [helper.make_node("Div", [x, "sqrt2"], ["t"]), helper.make_node("Erf", ["t"], ["f"])]
    else:
        head = [
            helper.make_node("Pow", [x, "three"], ["cube"]),
            helper.make_node("Mul", ["cube", "k"], ["kc"]),
            helper.make_node("Add", [x, "kc"], ["inner"]),
            helper.make_node("Mul", ["inner", "sqrt2pi"], ["t"]),
            helper.make_node("Tanh", ["t"], ["f"]),
        ]
    return head + [
        helper.make_node("Add", ["f", "one"], ["onep"]),
        helper.make_node("Mul", [x, "half"], ["hx"]),
        helper.make_node("Mul", ["hx", "onep"], [y]),
    ]


GELU_INITS = [("sqrt2", math.sqrt(2)), ("three", 3.0), ("k", 0.044715), ("sqrt2pi", math.sqrt(2 / math.pi)),
              ("one", 1.0), ("half", 0.5)]


@pytest.mark.parametrize("form", ["erf", "tanh"])
@pytest.mark.parametrize("opset", [17, 20])
def test_gelu_fusion(form, opset, tmp_path):
    inits = [init(n, np.float32(v)) for n, v in GELU_INITS]
    model = make_model(_gelu_nodes("x", "y", form), [vi("x", [3, 7])], [vi("y", [3, 7])], inits, opset)
    assert check(model, {"x": randn(3, 7) * 3}, tmp_path, rtol=1e-5, atol=1e-6) == {"Gelu": 1}


def test_gelu_after_matmul_bias_becomes_its_activation(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"])]
    nodes += _gelu_nodes("a", "y", "erf")
    inits = [init(n, np.float32(v)) for n, v in GELU_INITS] + [init("w", randn(6, 4)), init("bias", randn(4))]
    model = make_model(nodes, [vi("x", [2, 6])], [vi("y", [2, 4])], inits)
    assert check(model, {"x": randn(2, 6)}, tmp_path) == {"FusedMatMulBias": 1}


def test_softmax_fusion():
    nodes = [helper.make_node("Exp", ["x"], ["e"]), helper.make_node("ReduceSum", ["e", "axes"], ["s"]),
             helper.make_node("Div", ["e", "s"], ["y"])]
    model = make_model(nodes, [vi("x", [2, 3, 5])], [vi("y", [2, 3, 5])], [init("axes", np.array([-1], np.int64))])
    assert check(model, {"x": randn(2, 3, 5)}) == {"Softmax": 1}


def _attention_model(style: str) -> onnx.ModelProto:
    """Self-attention as exporters write it: 'bert' scales Q and K^T, 'gpt' divides scores and adds a mask."""
    heads, size, hidden = 2, 4, 8
    nodes, inits = [], [init("split", np.array([1, 5, heads, size], np.int64)),
                        init("merge", np.array([1, 5, hidden], np.int64))]
    for p in "qkv":
        nodes += [helper.make_node("MatMul", ["x", f"w{p}"], [f"{p}m"]),
                  helper.make_node("Add", [f"b{p}", f"{p}m"], [f"{p}b"]),
                  helper.make_node("Reshape", [f"{p}b", "split"], [f"{p}r"])]
        inits += [init(f"w{p}", randn(hidden, hidden)), init(f"b{p}", randn(hidden))]
    nodes += [helper.make_node("Transpose", ["qr"], ["qt"], perm=[0, 2, 1, 3]),
              helper.make_node("Transpose", ["vr"], ["vt"], perm=[0, 2, 1, 3])]
    if style == "bert":
        inits.append(init("s", np.float32(size ** -0.25)))
        nodes += [helper.make_node("Transpose", ["kr"], ["kt"], perm=[0, 2, 3, 1]),
                  helper.make_node("Mul", ["qt", "s"], ["qs"]), helper.make_node("Mul", ["kt", "s"], ["ks"]),
                  helper.make_node("MatMul", ["qs", "ks"], ["scores"]),
                  helper.make_node("Softmax", ["scores"], ["probs"], axis=-1)]
    else:
        mask = np.triu(np.full((5, 5), -1e9, np.float32), k=1)
        inits += [init("d", np.float32(math.sqrt(size))), init("mask", mask)]
        nodes += [helper.make_node("Transpose", ["kr"], ["kh"], perm=[0, 2, 1, 3]),
                  helper.make_node("Transpose", ["kh"], ["kt"], perm=[0, 1, 3, 2]),
                  helper.make_node("MatMul", ["qt", "kt"], ["raw"]),
                  helper.make_node("Div", ["raw", "d"], ["scaled"]),
                  helper.make_node("Add", ["scaled", "mask"], ["scores"]),
                  helper.make_node("Softmax", ["scores"], ["probs"], axis=-1)]
    nodes += [helper.make_node("MatMul", ["probs", "vt"], ["ctx"]),
              helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["ctx_t", "merge"], ["y"])]
    return make_model(nodes, [vi("x", [1, 5, hidden])], [vi("y", [1, 5, hidden])], inits)


@pytest.mark.parametrize("style", ["bert", "gpt"])
def test_attention_fusion(style, tmp_path):
    model = _attention_model(style)
    counts = check(model, {"x": randn(1, 5, 8)}, tmp_path, rtol=1e-4, atol=1e-5)
    assert counts["FusedAttention"] == 1
    assert counts["FusedMatMulBias"] == 3 and "Softmax" not in counts and "Mul" not in counts and "Div" not in counts


def test_saved_model_is_valid_without_onyx_domain(tmp_path):
    """onyx's fused operators are saved as operators other runtimes know (onyx.optimizer.portable)."""
    path = str(tmp_path / "m.onnx")
    assert session(_attention_model("gpt"), path=path)._model.opset.get("ai.onyx") == 1
    saved = onnx.load(path)
    assert "ai.onyx" not in {o.domain for o in saved.opset_import}
    onnx.checker.check_model(saved, full_check=True)


def _bn_inits(prefix: str, c: int) -> list[TensorProto]:
    return [init(f"{prefix}_s", RNG.random(c, dtype=np.float32) + 0.5), init(f"{prefix}_b", randn(c)),
            init(f"{prefix}_m", randn(c)), init(f"{prefix}_v", RNG.random(c, dtype=np.float32) + 0.5)]


def test_channel_affine_chain_becomes_one_node_with_activation(tmp_path):
    nodes = [
        helper.make_node("Concat", ["x", "x2"], ["cat"], axis=1),
        helper.make_node("BatchNormalization", ["cat", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        helper.make_node("Mul", ["k", "bn"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "shift"], ["shifted"]),
        helper.make_node("Relu", ["shifted"], ["y"]),
    ]
    inits = _bn_inits("bn", 4) + [init("k", randn(4, 1, 1)), init("shift", randn(1, 4, 1, 1))]
    model = make_model(nodes, [vi("x", [1, 2, 3, 3]), vi("x2", [1, 2, 3, 3])], [vi("y", [1, 4, 3, 3])], inits)
    counts = check(model, {"x": randn(1, 2, 3, 3), "x2": randn(1, 2, 3, 3)}, tmp_path)
    assert counts == {"Concat": 1, "ChannelAffine": 1}


def test_channel_affine_keeps_broadcasts_that_are_not_per_channel():
    nodes = [helper.make_node("Mul", ["x", "k"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    inits = [init("k", randn(1, 3, 1)), init("b", randn(4))]
    model = make_model(nodes, [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])], inits)
    assert check(model, {"x": randn(2, 3, 4)}) == {"Mul": 1, "Add": 1}


def test_per_channel_mul_and_add_after_conv_fold_into_its_weights():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        helper.make_node("Mul", ["bn", "k"], ["scaled"]),
        helper.make_node("Add", ["scaled", "shift"], ["shifted"]),
        helper.make_node("Relu", ["shifted"], ["y"]),
    ]
    inits = _bn_inits("bn", 4) + [init("w", randn(4, 2, 3, 3)), init("k", randn(4, 1, 1)), init("shift", randn(4, 1, 1))]
    model = make_model(nodes, [vi("x", [1, 2, 5, 5])], [vi("y", [1, 4, 5, 5])], inits)
    assert check(model, {"x": randn(1, 2, 5, 5)}, rtol=1e-4, atol=1e-5) == {"FusedConv": 1}


def _bn_relu_then(readers: list, scale: np.ndarray, opset: int = 17, summed=None) -> onnx.ModelProto:
    """Concat -> BatchNormalization(scale) -> Relu ("r") -> ``readers``; y sums the outputs
    ``summed`` (default: every reader's)."""
    c = scale.size
    nodes = [
        helper.make_node("Concat", ["x", "x2"], ["cat"], axis=1),
        helper.make_node("BatchNormalization", ["cat", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r"]),
        *readers,
        helper.make_node("Sum", summed or [n.output[0] for n in readers], ["y"]),
    ]
    inits = [init("bn_s", scale), init("bn_b", randn(c)), init("bn_m", randn(c)),
             init("bn_v", RNG.random(c, dtype=np.float32) + 0.5), init("w1", randn(3, c, 1, 1)), init("b1", randn(3)),
             init("w2", randn(3, c, 1, 1)), init("w3", randn(3, c, 3, 3)), init("up", np.array([1, 1, 2, 2], np.float32))]
    inits += _bn_inits("bn2", 3)
    half = [1, c // 2, 4, 4]
    return make_model(nodes, [vi("x", half), vi("x2", half)], [vi("y", [1, 3, 4, 4])], inits, opset=opset)


_MIXED_SCALE = np.array([0.7, -1.3, 2.0, -0.4], dtype=np.float32)
_FEEDS = {"x": randn(1, 2, 4, 4) * 2, "x2": randn(1, 2, 4, 4) * 2}


def test_bn_relu_read_by_pointwise_convs_becomes_a_clamp(tmp_path):
    """relu(s*x + t) = s*max(x, -t/s) + t (min where s < 0), s and t folded into every 1x1 reader;
    a reader folded that way can still take the next BatchNormalization into its weights."""
    readers = [
        helper.make_node("Conv", ["r", "w1", "b1"], ["c1"]),
        helper.make_node("Conv", ["r", "w2"], ["c2a"], strides=[2, 2]),
        helper.make_node("Resize", ["c2a", "", "up"], ["c2"], mode="nearest"),
        helper.make_node("Conv", ["r", "w2"], ["c3a"]),
        helper.make_node("BatchNormalization", ["c3a", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["c3b"]),
        helper.make_node("Relu", ["c3b"], ["c3"]),
    ]
    model = _bn_relu_then(readers, _MIXED_SCALE, summed=["c1", "c2", "c3"])
    counts = check(model, _FEEDS, tmp_path, rtol=1e-4, atol=1e-5)
    assert counts["Max"] == 1 and counts["Min"] == 1 and "ChannelAffine" not in counts and "BatchNormalization" not in counts


def test_positive_bn_scale_needs_only_the_lower_clamp(tmp_path):
    model = _bn_relu_then([helper.make_node("Conv", ["r", "w1", "b1"], ["c1"])], np.abs(_MIXED_SCALE))
    assert check(model, _FEEDS, tmp_path, rtol=1e-4, atol=1e-5) == {"Concat": 1, "Max": 1, "Conv": 1, "Sum": 1}


@pytest.mark.parametrize("case", ["padded reader", "zero scale", "opset 7"])
def test_bn_relu_stays_a_channel_affine(case):
    scale, opset = _MIXED_SCALE.copy(), 17
    readers = [helper.make_node("Conv", ["r", "w1"], ["c1"])]
    if case == "padded reader":
        readers.append(helper.make_node("Conv", ["r", "w3"], ["c3"], pads=[1, 1, 1, 1]))
    elif case == "zero scale":
        scale[2] = 0
    else:
        opset = 7
    model = _bn_relu_then(readers, scale, opset)
    counts = check(model, _FEEDS, rtol=1e-4, atol=1e-5, use_ort=opset >= 7)
    assert counts["ChannelAffine"] == 1 and "Max" not in counts


def _sibling_model(opset: int, third_pads=(0, 0, 0, 0)) -> onnx.ModelProto:
    """Three convs of x, each + Relu: 1x1 with and without bias, and a third 1x1 with ``third_pads``.
    The first two are concatenated into y, the third is z."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["x", "w2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Concat", ["r1", "r2"], ["y"], axis=1),
        helper.make_node("Conv", ["x", "w3", "b3"], ["c3"], pads=list(third_pads)),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("Neg", ["r3"], ["z"]),
    ]
    inits = [init("w1", randn(2, 4, 1, 1)), init("b1", randn(2)), init("w2", randn(3, 4, 1, 1)),
             init("w3", randn(5, 4, 1, 1)), init("b3", randn(5))]
    side = 5 + 2 * third_pads[0]
    return make_model(nodes, [vi("x", [2, 4, 5, 5])], [vi("y", [2, 5, 5, 5]), vi("z", [2, 5, side, side])],
                      inits, opset=opset)


@pytest.mark.parametrize("opset", [11, 17])
def test_sibling_convs_become_one_conv_and_a_split(opset, tmp_path):
    counts = check(_sibling_model(opset), {"x": randn(2, 4, 5, 5)}, tmp_path, rtol=1e-4, atol=1e-5)
    assert counts == {"FusedConv": 1, "Split": 1, "Concat": 1, "Neg": 1}


def test_convs_of_one_input_with_other_geometry_stay_apart(tmp_path):
    counts = check(_sibling_model(17, third_pads=(1, 1, 1, 1)), {"x": randn(2, 4, 5, 5)}, tmp_path,
                   rtol=1e-4, atol=1e-5)
    assert counts == {"FusedConv": 2, "Split": 1, "Concat": 1, "Neg": 1}


def test_residual_sum_of_two_fuses_into_conv():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Sum", ["x", "c"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    model = make_model(nodes, [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 4])], [init("w", randn(2, 2, 1, 1))])
    assert check(model, {"x": randn(1, 2, 4, 4)}) == {"FusedConv": 1}


def test_huge_constant_read_only_as_weights_is_folded():
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["w"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    model = make_model(nodes, [vi("x", [1, 1])], [vi("y", [1, (1 << 24) + 1])],
                       [init("shape", np.array([1, (1 << 24) + 1], np.int64))])
    optimized, _ = optimize(load_model(model.SerializeToString()), Level.ORT_ENABLE_ALL)
    assert [n.op_type for n in optimized.graph.nodes] == ["MatMul"]
