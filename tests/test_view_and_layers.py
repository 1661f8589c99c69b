"""onyx inspect --layers, what inspect says of FLOPs it cannot count, and onyx view (netron)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from onyx.cli import main

DIGITS = Path(__file__).parent.parent / "examples" / "digits" / "digits.onnx"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_layers_list_every_node_with_shapes_and_attributes():
    result = invoke("inspect", DIGITS, "--layers", "--dim", "batch=3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "layers (6):" in out
    assert "  [1] dense1  Gemm\n      inputs:  scaled [3, 64], w1 [64, 32], b1 [32]\n      outputs: hidden_pre [3, 32]" in out
    assert "  [5] argmax  ArgMax" in out and "attrs:   axis=1, keepdims=0" in out
    layers = json.loads(invoke("inspect", DIGITS, "--layers", "--json").output)["layers"]
    assert [x["name"] for x in layers] == ["normalize", "dense1", "relu1", "dense2", "softmax", "argmax"]
    assert layers[5]["outputs"] == [{"name": "label", "type": "tensor(int64)", "shape": ["batch"]}]


def test_layers_include_subgraph_nodes(tmp_path):
    branch = lambda name, op: helper.make_graph(  # noqa: E731
        [helper.make_node(op, ["x"], [f"{name}_y"])], name, [],
        [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [2])])
    node = helper.make_node("If", ["c"], ["y"], name="choose", then_branch=branch("then", "Relu"),
                            else_branch=branch("else", "Neg"))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    out = invoke("inspect", path, "--layers").output
    assert "[0] choose  If" in out and "attrs:   else_branch=<graph of 1 nodes>" in out
    assert "[1] choose.else_branch/(unnamed)  Neg" in out and "[2] choose.then_branch/(unnamed)  Relu" in out
    assert "inputs:  x [2]" in out


def _partly_symbolic_model(tmp_path) -> Path:
    """A MatMul on the symbolic-batch input, and an Add of two constants whose FLOPs are known."""
    w = numpy_helper.from_array(np.ones([4, 4], np.float32), "w")
    a = numpy_helper.from_array(np.ones([3], np.float32), "a")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Add", ["a", "a"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])], [w, a])
    path = tmp_path / "partly.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_flops_of_symbolic_models_say_what_was_not_counted(tmp_path):
    path = _partly_symbolic_model(tmp_path)
    out = invoke("inspect", path).output
    assert "total FLOPs: 3" not in out
    assert ("total FLOPs: unknown (3 counted; not counted: MatMul x1; their shapes depend on the symbolic "
            "dimension(s) batch: give them with --dim batch=VALUE)") in out
    assert "total FLOPs: 35" in invoke("inspect", path, "--dim", "batch=1").output  # 2*4*4 + 3


# -- onyx view ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_view_serves_the_model_in_netron():
    pytest.importorskip("netron", reason="the [view] extra is not installed")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "onyx.cli", "view", str(DIGITS), "--port", str(port),
                                "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        page = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 60).decode()
        assert "<title>Netron</title>" in page or "netron" in page.lower()
        assert '<meta name="file" content="/data/digits.onnx">' in page
        assert _get(f"http://127.0.0.1:{port}/data/digits.onnx", time.monotonic() + 10) == DIGITS.read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_view_of_a_missing_file_is_a_user_error(tmp_path):
    pytest.importorskip("netron", reason="the [view] extra is not installed")
    result = invoke("view", tmp_path / "none.onnx", "--no-browser")
    assert result.exit_code == 2 and "does not exist" in result.output
