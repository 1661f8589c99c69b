"""Models that onnxruntime optimized and saved (SessionOptions.optimized_model_filepath) run on
onyx with onnxruntime's results, at every level onnxruntime saves them: basic (standard
operators), extended (com.microsoft FusedConv, FusedGemm, FusedMatMul, Gelu,
SkipLayerNormalization...) and layout/all (com.microsoft.nchwc convolutions, pools, Upsample and
reorders, with weights re-laid out in channel blocks). onyx runs each saved file both as saved
(ORT_DISABLE_ALL) and with its own passes on top (ORT_ENABLE_ALL)."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.optimizer.nchwc import unblock_filter
from test_light_models import logits_model

ORT_LEVELS = {
    "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "layout": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_LAYOUT,
    "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
ONYX_LEVELS = [onyx.GraphOptimizationLevel.ORT_DISABLE_ALL, onyx.GraphOptimizationLevel.ORT_ENABLE_ALL]


class GraphBuilder:
    """Nodes and random initializers for a test graph."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value, dtype=np.float32) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, name: str, x: str, cin: int, cout: int, k: int, group: int = 1, stride: int = 1) -> str:
        w = self.rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(cin // group * k * k)
        inputs = [x, self.const(name + "_w", w), self.const(name + "_b", self.rng.standard_normal(cout) * 0.1)]
        return self.node("Conv", inputs, name, group=group, pads=[k // 2] * 4, strides=[stride] * 2, kernel_shape=[k, k])

    def model(self, inputs, outputs: list[str], opset: int) -> bytes:
        graph = helper.make_graph(self.nodes, "g", inputs,
                                  [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def cnn_model() -> bytes:
    """Every convolution form onnxruntime blocks: a first layer on a plain 3-channel input,
    grouped, depthwise, 20 channels (padded to the block on the way back in), each activation it fuses, a residual
    Sum, BatchNormalization, pools, an integer nearest Resize (its Upsample), Concat."""
    b = GraphBuilder(0)
    x = b.node("Relu", [b.conv("c1", "x", 3, 16, 3, stride=2)], "c1_relu")
    y = b.node("Sigmoid", [b.conv("c2", x, 16, 32, 3)], "c2_sigmoid")
    y = b.node("Clip", [b.conv("c3", y, 32, 32, 3, group=32), b.const("lo", 0.0), b.const("hi", 6.0)], "c3_clip")
    y = b.node("LeakyRelu", [b.conv("c4", y, 32, 20, 1)], "c4_leaky", alpha=0.1)
    y = b.node("Neg", [y], "c4_neg")  # not blocked: 20 channels go out of and back into blocks of 8 or 16
    y = b.node("HardSigmoid", [b.conv("c5", y, 20, 32, 3)], "c5_hard", alpha=0.3, beta=0.4)
    y = b.node("Add", [b.conv("c6", y, 32, 32, 3, group=2), b.conv("skip", x, 16, 32, 1)], "res")
    y = b.node("MaxPool", [b.node("Tanh", [y], "res_tanh")], "mp", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    y = b.node("AveragePool", [y], "ap", kernel_shape=[3, 3], pads=[1] * 4, count_include_pad=0)
    stats = [b.const(n, v) for n, v in [("s", b.rng.random(32) + .5), ("bb", b.rng.standard_normal(32)),
                                         ("m", b.rng.standard_normal(32) * .1), ("v", b.rng.random(32) + .5)]]
    y = b.node("BatchNormalization", [y] + stats, "bn")
    y = b.node("Resize", [y, "", b.const("scales", [1, 1, 2, 2])], "up", mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    cat = b.node("Concat", [b.node("Relu", [b.conv("c7", y, 32, 48, 3)], "c7_relu"), b.conv("c8", y, 32, 16, 1)], "cat",
                 axis=1)
    b.node("GlobalMaxPool", [cat], "gmp")
    flat = b.node("Flatten", [b.node("GlobalAveragePool", [cat], "gap")], "flat")
    fc = b.node("Gemm", [flat, b.const("fc_w", b.rng.standard_normal((10, 64)) * .1), b.const("fc_b", np.zeros(10))],
                "fc", transB=1)
    b.node("LeakyRelu", [fc], "logits", alpha=0.2)
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])], ["logits", "gmp", "cat"], 17)


def transformer_model(hidden: int = 32, heads: int = 4, seq: int = 8) -> bytes:
    """One BERT-style encoder layer written out in primitive operators (opset 13), which
    onnxruntime fuses into LayerNormalization, SkipLayerNormalization, FusedMatMul, Gelu, Gemm."""
    b = GraphBuilder(1)

    def linear(name, x, n_in, n_out):
        y = b.node("MatMul", [x, b.const(name + "_w", b.rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))], name + "_mm")
        return b.node("Add", [y, b.const(name + "_b", b.rng.standard_normal(n_out) * 0.1)], name)

    def layer_norm(name, x):
        d = b.node("Sub", [x, b.node("ReduceMean", [x], name + "_mean", axes=[-1])], name + "_d")
        var = b.node("ReduceMean", [b.node("Pow", [d, b.const(name + "_two", 2.0)], name + "_sq")], name + "_var", axes=[-1])
        std = b.node("Sqrt", [b.node("Add", [var, b.const(name + "_eps", 1e-5)], name + "_ve")], name + "_std")
        scaled = b.node("Mul", [b.node("Div", [d, std], name + "_n"), b.const(name + "_g", b.rng.random(hidden) + .5)],
                        name + "_s")
        return b.node("Add", [scaled, b.const(name + "_beta", b.rng.standard_normal(hidden) * .1)], name)

    def heads_of(name, t):
        r = b.node("Reshape", [t, b.const(name + "_shape", [1, seq, heads, hidden // heads], np.int64)], name + "_r")
        return b.node("Transpose", [r], name + "_t", perm=[0, 2, 1, 3])

    x = layer_norm("ln0", "x")
    q, k, v = (heads_of(n, linear("l" + n, x, hidden, hidden)) for n in "qkv")
    scores = b.node("MatMul", [q, b.node("Transpose", [k], "kt", perm=[0, 1, 3, 2])], "qk")
    scores = b.node("Add", [b.node("Div", [scores, b.const("scale", np.sqrt(hidden // heads))], "qk_s"), "mask"], "qk_m")
    ctx = b.node("MatMul", [b.node("Softmax", [scores], "probs", axis=-1), v], "ctx")
    ctx = b.node("Reshape", [b.node("Transpose", [ctx], "ctx_t", perm=[0, 2, 1, 3]),
                             b.const("merge", [1, seq, hidden], np.int64)], "ctx_r")
    h1 = layer_norm("ln1", b.node("Add", [linear("lo", ctx, hidden, hidden), x], "res1"))
    f = linear("f1", h1, hidden, 4 * hidden)
    erf = b.node("Erf", [b.node("Div", [f, b.const("sqrt2", np.sqrt(2.0))], "f_x2")], "f_erf")
    gelu = b.node("Mul", [b.node("Mul", [f, b.node("Add", [erf, b.const("one", 1.0)], "f_1p")], "f_m"),
                          b.const("half", 0.5)], "gelu")
    layer_norm("out", b.node("Add", [linear("f2", gelu, 4 * hidden, hidden), h1], "res2"))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden]),
              helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 1, seq])]
    return b.model(inputs, ["out"], 13)


def saved_by_onnxruntime(model, level: str, folder: Path) -> Path:
    """The model as onnxruntime optimizes and saves it at ``level``."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = ORT_LEVELS[level]
    options.optimized_model_filepath = str(folder / f"ort_{level}.onnx")
    options.log_severity_level = 3  # its warning that layout-optimized files are tied to this CPU
    onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return Path(options.optimized_model_filepath)


def unused_inputs(session, feeds: dict) -> dict:
    """Zeros for the inputs onnxruntime leaves in files of IR version 3 after folding away the
    nodes that read them (it too demands them as feeds)."""
    dtypes = {"tensor(float)": np.float32, "tensor(int64)": np.int64}
    return {i.name: np.zeros(i.shape, dtypes[i.type]) for i in session.get_inputs()
            if i.name not in feeds}


def assert_runs_like_onnxruntime(model, feeds: dict, level: str, folder: Path, rtol=1e-4) -> set:
    """Compare onyx on onnxruntime's saved file with onnxruntime on the original model;
    returns the (domain, op_type) pairs the saved file holds outside the standard domain."""
    expected = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    path = saved_by_onnxruntime(model, level, folder)
    for onyx_level in ONYX_LEVELS:
        options = onyx.SessionOptions()
        options.graph_optimization_level = onyx_level
        session = onyx.InferenceSession(str(path), options)
        got = session.run(None, {**unused_inputs(session, feeds), **feeds})
        for ours, theirs in zip(got, expected, strict=True):
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * max(1.0, float(np.abs(theirs).max())))
    return {(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node if n.domain not in ("", "ai.onnx")}


@pytest.mark.parametrize("level", ORT_LEVELS)
def test_cnn_saved_by_onnxruntime(level, tmp_path):
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    custom = assert_runs_like_onnxruntime(cnn_model(), {"x": x}, level, tmp_path)
    if level in ("layout", "all"):  # the file really is in onnxruntime's blocked form
        assert {("com.microsoft.nchwc", op) for op in ("Conv", "ReorderInput", "ReorderOutput", "Upsample",
                                                        "MaxPool", "AveragePool", "GlobalAveragePool")} <= custom
    elif level == "extended":
        assert {("com.microsoft", "FusedConv"), ("com.microsoft", "FusedGemm")} <= custom


@pytest.mark.parametrize("level", ["extended", "all"])
def test_transformer_saved_by_onnxruntime(level, tmp_path):
    custom = assert_runs_like_onnxruntime(transformer_model(), transformer_feeds(), level, tmp_path)
    assert {("com.microsoft", "SkipLayerNormalization"), ("com.microsoft", "FusedMatMul"),
            ("com.microsoft", "Gelu")} <= custom


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_light_network_saved_by_onnxruntime_at_level_all(name, tmp_path):
    model = logits_model(name)  # compared before Softmax, as in test_light_models
    (spec,) = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).get_inputs()
    image = np.random.default_rng(0).standard_normal(spec.shape).astype(np.float32)
    assert ("com.microsoft.nchwc", "Conv") in assert_runs_like_onnxruntime(model, {spec.name: image}, "all", tmp_path)


@pytest.mark.parametrize("layout, group", [("Bo", 1), ("BiBo", 1), ("BiBo", 2)])
@pytest.mark.parametrize("block", [8, 16])
def test_blocked_filters_unblock_to_oihw(layout, group, block):
    """unblock_filter inverts the blocked orders for both block sizes (16 is AVX-512's,
    which this test cannot get from onnxruntime on a machine without it)."""
    w = np.random.default_rng(4).standard_normal((2 * block * group, 3 if layout == "Bo" else 2 * block, 3, 3))
    w = w.astype(np.float32)
    out, cin = w.shape[:2]
    if layout == "Bo":  # [out block, input, kh, kw, out lane]
        blocked = w.reshape(out // block, block, cin, 3, 3).transpose(0, 2, 3, 4, 1)
    else:  # [group, out block, in block, kh, kw, in lane, out lane]
        blocked = w.reshape(group, out // group // block, block, cin // block, block, 3, 3).transpose(0, 1, 3, 5, 6, 4, 2)
    np.testing.assert_array_equal(unblock_filter(np.ascontiguousarray(blocked).reshape(w.shape), layout, group, block), w)


def transformer_feeds() -> dict:
    rng = np.random.default_rng(3)
    return {"x": rng.standard_normal((1, 8, 32)).astype(np.float32),
            "mask": np.where(rng.random((1, 1, 1, 8)) < 0.2, -1e4, 0).astype(np.float32)}


@pytest.mark.parametrize("level", ["ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"])
@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_onyx_saves_files_onnxruntime_runs(name, level, tmp_path):
    """Every level of onyx's writes a file without onyx's own operators, which onnxruntime
    loads and runs to onnxruntime's results on the original."""
    model, feeds = (cnn_model(), {"x": np.ones((1, 3, 32, 32), np.float32)}) if name == "cnn" else \
        (transformer_model(), transformer_feeds())
    options = onyx.SessionOptions()
    options.graph_optimization_level = getattr(onyx.GraphOptimizationLevel, level)
    options.optimized_model_filepath = str(tmp_path / "onyx.onnx")
    onyx.InferenceSession(model, options)
    saved = onnx.load(options.optimized_model_filepath)
    assert not [n.op_type for n in saved.graph.node if n.domain == "ai.onyx"]
    assert "ai.onyx" not in {o.domain for o in saved.opset_import}
    expected = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = onnxruntime.InferenceSession(options.optimized_model_filepath, providers=["CPUExecutionProvider"]).run(None, feeds)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(theirs).max())))


def test_activations_onnxruntime_does_not_fuse_are_saved_as_their_own_operators(tmp_path):
    """Conv + Gelu and Gemm + Clip, which onyx fuses and onnxruntime's fused operators cannot
    express, and MatMul + Add + Relu, are saved as standard or com.microsoft operators."""
    b = GraphBuilder(5)
    y = b.node("Gelu", [b.conv("c", "x", 3, 8, 3)], "gelu")
    y = b.node("Flatten", [b.node("GlobalAveragePool", [y], "gap")], "flat")
    y = b.node("Gemm", [y, b.const("gw", b.rng.standard_normal((8, 6))), b.const("gb", np.zeros(6))], "gemm")
    y = b.node("Clip", [y, b.const("lo", -0.5), b.const("hi", 0.5)], "clip")
    y = b.node("Add", [b.node("MatMul", [y, b.const("mw", b.rng.standard_normal((6, 4)))], "mm"),
                       b.const("mb", np.ones(4))], "mm_b")
    b.node("Relu", [y], "out")
    model = b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])], ["out"], 20)
    options = onyx.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "onyx.onnx")
    session = onyx.InferenceSession(model, options)
    assert {n.op_type for n in session._model.graph.nodes if n.domain == "ai.onyx"} >= {"FusedConv", "FusedGemm",
                                                                                         "FusedMatMulBias"}
    feeds = {"x": np.random.default_rng(6).standard_normal((2, 3, 8, 8)).astype(np.float32)}
    saved = onnxruntime.InferenceSession(options.optimized_model_filepath, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(saved.run(None, feeds)[0], session.run(None, feeds)[0], rtol=1e-5, atol=1e-5)
    assert "ai.onyx" not in {n.domain for n in onnx.load(options.optimized_model_filepath).graph.node}
