"""The commands beyond `run` (inspect, bench, profile, optimize, compare), driven through the
entry point on small models, and the session APIs behind them."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.cli import EXIT_USER_ERROR, main
from onyx.cli.compare import EXIT_DIVERGED
from onyx.ops import registry
from models import conv_model, mlp_model

DIGITS = Path(__file__).parent.parent / "examples" / "digits"
MODEL = DIGITS / "digits.onnx"
SAMPLE = DIGITS / "sample.npy"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def json_of(output: str):
    """The JSON document in ``output`` (CliRunner mixes stderr progress lines in)."""
    return json.loads(output[output.index("{"): output.rindex("}") + 1])


@pytest.fixture
def conv_path(tmp_path):
    path = tmp_path / "conv.onnx"
    onnx.save(conv_model(), path)
    return path


@pytest.fixture
def mlp_path(tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), path)
    return path


# -- help ---------------------------------------------------------------------------

def test_help_lists_every_command_and_each_has_an_example():
    result = invoke("--help")
    for command in ("run", "inspect", "bench", "profile", "optimize", "compare"):
        assert command in result.output
        sub = invoke(command, "--help")
        assert sub.exit_code == 0 and f"onyx {command} " in sub.output and "Example:" in sub.output


# -- inspect ------------------------------------------------------------------------

def test_inspect_digits_prints_the_facts():
    result = invoke("inspect", MODEL, "--dim", "batch=1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "producer:     onyx-examples" in out and "IR version:   8" in out and "ai.onnx 17" in out
    assert "5 (2,411 parameters" in out
    assert "image  tensor(float)  [batch, 64]" in out
    assert "label          tensor(int64)  [batch]" in out
    # Gemm 64->32 and 32->10 at batch 1: 2*(64*32 + 32*10) + bias adds (32 + 10)
    assert "Gemm         2  4.78 k" in out


def test_inspect_json_flops_follow_dims(conv_path):
    result = invoke("inspect", conv_path, "--dim", "N=2", "--json")
    info = json_of(result.output)
    assert info["producer"] == "onyx-tests 1.0"
    assert info["op_histogram"] == {"Conv": 1, "Relu": 1, "MaxPool": 1, "Flatten": 1, "MatMul": 1}
    assert info["parameter_count"] == 4 * 3 * 9 + 4 + 64 * 5
    assert info["flops"]["Conv"] == 2 * (2 * 4 * 8 * 8) * (3 * 9) + 2 * 4 * 8 * 8
    assert info["flops"]["MatMul"] == 2 * (2 * 5) * 64
    assert info["flops"]["MaxPool"] == 2 * 4 * 4 * 4 * 4
    symbolic = json_of(invoke("inspect", conv_path, "--json").output)
    assert symbolic["flops"] == {} and symbolic["flops_unknown"]["Conv"] == 1


def test_inspect_lists_functions_and_external_data(tmp_path):
    weight = numpy_helper.from_array(np.ones((256, 4), np.float32), "w")
    function = helper.make_function("local", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                                     [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Double", ["h"], ["y"], domain="local")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [weight])
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    path = tmp_path / "ext.onnx"
    onnx.save(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    result = invoke("inspect", path)
    assert result.exit_code == 0, result.output
    assert "functions: local::Double (1 nodes)" in result.output
    assert "external data: weights.bin" in result.output
    assert "local::Double      1" in result.output


def test_inspect_of_a_corrupt_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff not onnx")
    result = invoke("inspect", bad)
    assert result.exit_code == EXIT_USER_ERROR and result.output.count("\n") == 1
    assert "not a valid ONNX model" in result.output


# -- run: json and image inputs ------------------------------------------------------

def test_run_takes_json_inputs(tmp_path):
    feed = tmp_path / "image.json"
    feed.write_text(json.dumps({"image": np.load(SAMPLE)[:2].tolist()}))
    result = invoke("run", MODEL, "--input", f"image={feed}", "--json")
    assert json_of(result.output)["outputs"]["label"]["preview"] == "[2, 8]"


def test_run_takes_an_image_resized_and_normalized(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    digit = np.load(SAMPLE)[0].reshape(8, 8)  # values 0..16
    pixels = np.kron(digit * 255 / 16, np.ones((4, 4))).astype(np.uint8)  # a 32x32 picture
    png = tmp_path / "digit.png"
    Image.fromarray(pixels).save(png)
    # 0..255 -> 0..16, the model's own scale; resized from 32x32 to the input's 8x8
    result = invoke("run", MODEL, "--input", f"image={png}", "--scale", 16 / 255, "--json")
    assert result.exit_code == 0, result.output
    assert json_of(result.output)["outputs"]["label"]["preview"] == "[2]"


# -- bench --------------------------------------------------------------------------

def test_bench_prints_latency_and_ratio_against_onnxruntime():
    pytest.importorskip("onnxruntime")
    result = invoke("bench", MODEL, "--runs", 5, "--warmup", 1, "--compare", "onnxruntime")
    assert result.exit_code == 0, result.output
    assert "benchmarking" in result.output  # the progress bar's label
    assert "median" in result.output and "p99" in result.output
    assert "onyx / onnxruntime median latency:" in result.output


def test_bench_json_with_time_budget():
    result = invoke("bench", MODEL, "--runs", 1000, "--time", 0.01, "--json")
    timing = json_of(result.output)["runtimes"]["onyx"]
    assert 3 <= timing["runs"] < 1000
    assert timing["median_s"] <= timing["p90_s"] <= timing["p99_s"]


# -- profile ------------------------------------------------------------------------

def _assert_chrome_trace(path, node_names):
    events = json.loads(Path(path).read_text())
    assert isinstance(events, list)
    for e in events:
        assert e["ph"] == "X" and {"cat", "name", "ts", "dur", "pid", "tid", "args"} <= set(e)
        assert e["dur"] >= 0
    nodes = [e for e in events if e["cat"] == "Node"]
    assert {e["args"]["node_name"] for e in nodes} == set(node_names)
    assert all(e["name"] == e["args"]["node_name"] + "_kernel_time" and e["args"]["op_name"] for e in nodes)
    return events


def test_profile_prints_tables_and_writes_a_chrome_trace(mlp_path, tmp_path):
    prefix = tmp_path / "mlp"
    result = invoke("profile", mlp_path, "--runs", 3, "--top", 2, "--prefix", prefix, "--dim", "N=4",
                    "--level", "disabled")
    assert result.exit_code == 0, result.output
    assert "3 runs" in result.output
    assert "slowest nodes (2 of 5)" in result.output
    for op, nodes in (("MatMul", 2), ("Add", 2), ("Relu", 1)):
        assert re.search(rf"^{op} +{nodes} +[\d.]+ +[\d.]+%$", result.output, re.MULTILINE)
    [trace] = tmp_path.glob("mlp_*.json")
    assert f"trace written to {trace}" in result.output
    events = _assert_chrome_trace(trace, ["mm1", "bias1", "relu", "mm2", "bias2"])
    assert sum(e["name"] == "model_run" for e in events) == 4  # warm-up + 3


def test_profiling_through_the_session_api(tmp_path):
    options = onyx.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "api")
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onyx.InferenceSession(str(MODEL), options)
    session.run(None, {"image": np.load(SAMPLE)})
    assert session.get_profiling_start_time_ns() > 0
    path = session.end_profiling()
    assert Path(path).name.startswith("api_") and path.endswith(".json")
    events = _assert_chrome_trace(path, ["normalize", "dense1", "relu1", "dense2", "softmax", "argmax"])
    gemm = next(e for e in events if e["args"].get("node_name") == "dense1")
    assert gemm["args"]["op_name"] == "Gemm" and gemm["args"]["output_type_shape"] == [{"float": [5, 32]}]
    assert onyx.InferenceSession(str(MODEL)).end_profiling() == ""


# -- intermediates API ----------------------------------------------------------------

def test_run_with_intermediates_returns_every_node_output_in_order():
    options = onyx.SessionOptions()  # the graph as saved: fusion would merge Gemm and Relu
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onyx.InferenceSession(str(MODEL), options)
    x = np.load(SAMPLE)
    outputs, values = session.run_with_intermediates(["label"], {"image": x})
    assert list(values) == ["scaled", "hidden_pre", "hidden", "logits", "probabilities", "label"]
    np.testing.assert_array_equal(outputs[0], values["label"])
    np.testing.assert_allclose(values["scaled"], x / 16)
    np.testing.assert_array_equal(values["hidden"], np.maximum(values["hidden_pre"], 0))


# -- optimize -----------------------------------------------------------------------

def test_optimize_writes_a_model_that_gives_the_same_outputs(mlp_path, tmp_path):
    pytest.importorskip("onyx.optimizer", reason="onyx.optimizer is written on another branch")
    out = tmp_path / "mlp.opt.onnx"
    result = invoke("optimize", mlp_path, "-o", out, "--level", "all")
    assert result.exit_code == 0, result.output
    assert "nodes: 5 -> " in result.output and "pass" in result.output
    x = np.random.default_rng(1).standard_normal((2, 16)).astype(np.float32)
    expected = onyx.InferenceSession(str(mlp_path)).run(None, {"x": x})[0]
    got = onyx.InferenceSession(str(out)).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    report = json_of(invoke("optimize", MODEL, "-o", tmp_path / "d.onnx", "--json").output)
    assert report["nodes_before"] == 6
    assert all(p["nodes_before"] >= p["nodes_after"] for p in report["passes"])


# -- compare ------------------------------------------------------------------------

@pytest.mark.parametrize("against", ["onnxruntime", "reference"])
def test_compare_digits_agrees(against):
    if against == "onnxruntime":
        pytest.importorskip("onnxruntime")
    result = invoke("compare", MODEL, "--input", f"image={SAMPLE}", "--against", against)
    assert result.exit_code == 0, result.output
    assert f"all 6 values agree with {against}" in result.output
    assert "hidden_pre     dense1     Gemm     [5, 32]" in result.output


@pytest.fixture
def buggy_relu(monkeypatch):
    """Plant a bug in onyx: Relu adds 0.5 (so the Relu node and everything after diverge)."""
    kdef = registry.lookup("", "Relu", 17)
    versions = [(since, dataclasses.replace(k, fn=lambda x: np.maximum(x, 0) + np.float32(0.5)) if k is kdef else k)
                for since, k in registry._KERNELS[("", "Relu")]]
    monkeypatch.setitem(registry._KERNELS, ("", "Relu"), versions)


@pytest.mark.parametrize("against", ["onnxruntime", "reference"])
def test_compare_finds_the_planted_divergence(mlp_path, buggy_relu, against):
    if against == "onnxruntime":
        pytest.importorskip("onnxruntime")
    result = invoke("compare", mlp_path, "--dim", "N=2", "--against", against)
    assert result.exit_code == EXIT_DIVERGED, result.output
    assert ("first divergence: node 'relu' (Relu), output 'r', inputs' shapes [2, 8]: "
            "max abs err 0.5") in result.output
    report = json_of(invoke("compare", mlp_path, "--dim", "N=2", "--against", against, "--json").output)
    status = {row["node"]: row["ok"] for row in report["rows"]}
    assert status == {"mm1": True, "bias1": True, "relu": False, "mm2": False, "bias2": False}
    assert report["first"]["max_abs"] == pytest.approx(0.5)


# -- errors -------------------------------------------------------------------------

def test_bad_options_are_one_line_user_errors():
    for args in (["bench", MODEL, "--resize", "big"], ["inspect", MODEL, "--dim", "batch=x"],
                 ["compare", MODEL, "--mean", "a,b"]):
        result = invoke(*args)
        assert result.exit_code == EXIT_USER_ERROR, result.output
        assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output


def test_inspect_of_a_large_file_lists_no_external_data(tmp_path, monkeypatch):
    """Large model files are loaded with their weights left in place (onyx.model.wire); that is
    not external data, and inspect must not report the model file as an external-data file."""
    from onyx.model import loader

    monkeypatch.setattr(loader, "SPLIT_WEIGHTS_BYTES", 0)
    result = invoke("inspect", MODEL, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["external_files"] == {}


def test_alternate_interleaves_runners_and_primes_each_timed_run_after_a_pause():
    from onyx.tools.bench import alternate

    calls = []
    timings = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                        warmup=1, runs=2, settle_s=0.001, rewarm_s=0)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2  # warm-up, then (re-warming, timed) per runner
    assert [len(t.samples) for t in timings.values()] == [2, 2]
    calls.clear()
    alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, warmup=0, runs=2)
    assert calls == ["a", "b", "a", "b"]
