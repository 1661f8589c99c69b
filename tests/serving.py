"""What the serving tests share: small model repositories built on the fly, and a server on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIGITS = Path(__file__).parents[1] / "examples" / "digits" / "digits.onnx"
CNN_LABELS = ["cat", "dog", "bird", "fish", "frog"]


def cnn_model() -> onnx.ModelProto:
    """A small image classifier: [N, 3, 16, 16] -> Conv -> Relu -> GlobalAveragePool -> Gemm -> Softmax [N, 5]."""
    rng = np.random.default_rng(0)
    weights = {
        "w": rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32),
        "b": rng.normal(0, 0.1, 8).astype(np.float32),
        "fc": rng.normal(0, 1.0, (8, 5)).astype(np.float32),
        "fc_b": rng.normal(0, 0.1, 5).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["pixels", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"labels": json.dumps(CNN_LABELS)})
    return model


def fixed_model() -> onnx.ModelProto:
    """No batch dimension: int32 [2, 3] plus one, and string echo."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["numbers", "one"], ["plus_one"]),
         helper.make_node("Identity", ["words"], ["echo"])],
        "fixed",
        [helper.make_tensor_value_info("numbers", TensorProto.INT32, [2, 3]),
         helper.make_tensor_value_info("words", TensorProto.STRING, [2])],
        [helper.make_tensor_value_info("plus_one", TensorProto.INT32, [2, 3]),
         helper.make_tensor_value_info("echo", TensorProto.STRING, [2])],
        [numpy_helper.from_array(np.array(1, np.int32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def make_repository(root: Path, configs: dict[str, dict] | None = None) -> Path:
    """``root``/repo with digits (versions 1 and 2), cnn and fixed; ``configs`` become config.json files."""
    repo = root / "repo"
    for name, versions in {"digits": ["1", "2"], "cnn": ["1"], "fixed": ["1"]}.items():
        for version in versions:
            (repo / name / version).mkdir(parents=True)
    for version in ("1", "2"):
        shutil.copy(DIGITS, repo / "digits" / version / "model.onnx")
    onnx.save(cnn_model(), repo / "cnn" / "1" / "model.onnx")
    onnx.save(fixed_model(), repo / "fixed" / "1" / "model.onnx")
    for name, config in (configs or {}).items():
        if not (repo / name).exists():
            (repo / name / "1").mkdir(parents=True)
            shutil.copy(DIGITS, repo / name / "1" / "model.onnx")
        (repo / name / "config.json").write_text(json.dumps(config))
    return repo


@contextlib.contextmanager
def running_server(repo, **app_options) -> Iterator[str]:
    """A server for ``repo`` (a folder or a loaded Repository) on a free loopback port; yields "host:port"."""
    from onyx.serve.app import create_app
    from onyx.serve.repository import Repository
    from onyx.serve.server import running_in_thread

    repository = repo if isinstance(repo, Repository) else Repository.load(repo)
    with running_in_thread(create_app(repository, **app_options), "127.0.0.1", 0) as url:
        yield url.removeprefix("http://")


def http(address: str, path: str, body: bytes | None = None, headers: dict | None = None,
         method: str | None = None) -> tuple[int, dict, bytes]:
    """One plain HTTP call: (status, headers, body); 4xx/5xx replies are returned, not raised."""
    request = urllib.request.Request(f"http://{address}{path}", data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def metric(address: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample from /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = http(address, "/metrics")[2].decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def require(*modules: str) -> None:
    """Skip the calling test module when the serve extra or its test clients are missing (CI installs them: fail there)."""
    import importlib.util
    import os

    import pytest

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"needs {missing}: pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)
