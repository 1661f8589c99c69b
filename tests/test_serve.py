"""onyx serve against the real tritonclient: metadata, JSON and binary inference, dynamic batching, metrics."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from serving import CNN_LABELS, DIGITS, cnn_model, http, make_repository, metric, require, running_server

require("starlette", "uvicorn", "prometheus_client", "tritonclient.http")

import tritonclient.http as triton  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

import onyx  # noqa: E402

RNG = np.random.default_rng(0)
BATCH_DELAY_MS = 400
SLOW_DELAY_MS = 3000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repo = make_repository(tmp_path_factory.mktemp("serve"),
                           {"batched": {"max_queue_delay_ms": BATCH_DELAY_MS, "max_batch_size": 64},
                            "unbatched": {"max_batch_size": 0},
                            "slow": {"max_queue_delay_ms": SLOW_DELAY_MS}})
    with running_server(repo) as address:
        yield address


@pytest.fixture(scope="module")
def client(server):
    client = triton.InferenceServerClient(server, concurrency=8)
    yield client
    client.close()


def digits_batch(rows: int) -> np.ndarray:
    return RNG.integers(0, 17, (rows, 64)).astype(np.float32)


def infer_input(name: str, array: np.ndarray, datatype: str, binary: bool) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def test_health_server_and_model_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "onyx"
    assert client.is_model_ready("digits") and client.is_model_ready("digits", "1")
    assert not client.is_model_ready("no_such_model")
    meta = client.get_model_metadata("digits")
    assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 64]}]
    assert meta["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [-1]},
                               {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]
    assert client.get_model_metadata("fixed")["inputs"][0] == {"name": "numbers", "datatype": "INT32", "shape": [2, 3]}
    config = client.get_model_config("digits", "1")
    assert config["max_batch_size"] == 32 and config["input"][0]["dims"] == [64]
    assert client.get_model_config("fixed")["max_batch_size"] == 0
    index = {(m["name"], m["version"]) for m in client.get_model_repository_index()}
    assert {("digits", "1"), ("digits", "2"), ("cnn", "1"), ("fixed", "1")} <= index


@pytest.mark.parametrize("rows", [5, 1100], ids=["small", "large"])  # large: parsed off the event loop
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_digits_match_inference_session(client, binary, rows):
    images = digits_batch(rows)
    expected = onyx.InferenceSession(str(DIGITS)).run(None, {"image": images})
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("label", "probabilities")]
    result = client.infer("digits", [infer_input("image", images, "FP32", binary)], outputs=outputs)
    np.testing.assert_array_equal(result.as_numpy("label"), expected[0])
    np.testing.assert_array_equal(result.as_numpy("probabilities"), expected[1])
    assert result.get_response()["model_version"] == "2"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_cnn_matches_inference_session(client, binary):
    pixels = RNG.random((3, 3, 16, 16), dtype=np.float32)
    expected = onyx.InferenceSession(cnn_model().SerializeToString()).run(None, {"pixels": pixels})[0]
    result = client.infer("cnn", [infer_input("pixels", pixels, "FP32", binary)], model_version="1")
    np.testing.assert_array_equal(result.as_numpy("scores"), expected)


def test_requested_outputs_only_and_request_id(client):
    result = client.infer("digits", [infer_input("image", digits_batch(2), "FP32", True)],
                          outputs=[triton.InferRequestedOutput("label")], request_id="req-7")
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["label"] and response["id"] == "req-7"
    assert result.as_numpy("probabilities") is None


def test_classification_extension_gives_top_labels(client):
    pixels = RNG.random((2, 3, 16, 16), dtype=np.float32)
    scores = onyx.InferenceSession(cnn_model().SerializeToString()).run(None, {"pixels": pixels})[0]
    result = client.infer("cnn", [infer_input("pixels", pixels, "FP32", False)],
                          outputs=[triton.InferRequestedOutput("scores", class_count=3)])
    top = result.as_numpy("scores")
    assert top.shape == (2, 3)
    for row, entries in zip(scores, top):
        order = np.argsort(-row)[:3]
        parsed = [entry.decode().split(":") for entry in entries]
        assert [int(index) for _, index, _ in parsed] == order.tolist()
        assert [label for _, _, label in parsed] == [CNN_LABELS[i] for i in order]
        np.testing.assert_allclose([float(score) for score, _, _ in parsed], row[order], atol=1e-6)  # "%f" text


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_fixed_shape_int_and_string_tensors(client, binary):
    numbers = np.arange(6, dtype=np.int32).reshape(2, 3)
    words = np.array(["ünïcode", "plain"], dtype=object)
    result = client.infer("fixed", [infer_input("numbers", numbers, "INT32", binary),
                                    infer_input("words", words, "BYTES", binary)],
                          outputs=[triton.InferRequestedOutput(n, binary_data=binary) for n in ("plus_one", "echo")])
    np.testing.assert_array_equal(result.as_numpy("plus_one"), numbers + 1)
    assert [w.decode() if isinstance(w, bytes) else w for w in result.as_numpy("echo")] == list(words)


def test_concurrent_requests_are_batched_and_split_back(client, server):
    requests = [digits_batch(rows) for rows in (1, 2, 3, 1, 2, 1, 4, 2)]
    runs_before = metric(server, "onyx_model_runs_total", model="batched")
    pending = [client.async_infer("batched", [infer_input("image", images, "FP32", True)]) for images in requests]
    results = [p.get_result(timeout=60) for p in pending]
    runs = metric(server, "onyx_model_runs_total", model="batched") - runs_before
    assert 1 <= runs < len(requests)
    session = onyx.InferenceSession(str(DIGITS))
    for images, result in zip(requests, results):
        label, probabilities = session.run(None, {"image": images})
        np.testing.assert_array_equal(result.as_numpy("label"), label)
        np.testing.assert_allclose(result.as_numpy("probabilities"), probabilities, rtol=1e-5, atol=1e-7)
    assert metric(server, "onyx_batch_size_sum", model="batched") >= sum(len(r) for r in requests)


def test_batching_off_runs_each_request_alone(client, server):
    pending = [client.async_infer("unbatched", [infer_input("image", digits_batch(2), "FP32", True)])
               for _ in range(4)]
    for p in pending:
        p.get_result(timeout=60)
    assert metric(server, "onyx_model_runs_total", model="unbatched") == 4


def infer_in_thread(pool: ThreadPoolExecutor, address: str, model: str):
    """One JSON request for ``model`` sent from a worker thread (tritonclient's async calls are
    gevent greenlets, which only start when the caller waits for a result)."""
    body = {"inputs": [{"name": "image", "shape": [1, 64], "datatype": "FP32", "data": [2.0] * 64}]}
    return pool.submit(http, address, f"/v2/models/{model}/infer", json.dumps(body).encode())


def test_health_answers_while_requests_wait_for_their_batch(server):
    with ThreadPoolExecutor(1) as pool:
        pending = infer_in_thread(pool, server, "slow")  # waits SLOW_DELAY_MS in the queue for company
        deadline = time.monotonic() + 30
        while metric(server, "onyx_queue_depth", model="slow") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pending.done()
        assert http(server, "/v2/health/ready")[0] == 200
        status, _, body = pending.result(timeout=60)
    assert status == 200 and json.loads(body)["outputs"][0]["shape"] == [1]


def test_health_and_metrics_answer_while_a_model_runs(tmp_path):
    import threading

    from onyx.serve.repository import Repository

    repository = Repository.load(make_repository(tmp_path))
    session = repository.get("digits").sessions[0]
    started, release, real_run = threading.Event(), threading.Event(), session.run

    def held_run(names, feeds):
        started.set()
        release.wait(30)
        return real_run(names, feeds)

    session.run = held_run
    with running_server(repository) as address, ThreadPoolExecutor(1) as pool:
        try:
            pending = infer_in_thread(pool, address, "digits")
            assert started.wait(30)
            assert http(address, "/v2/health/ready")[0] == 200  # the run holds a worker thread, not the loop
            assert metric(address, "onyx_model_runs_total", model="digits", version="2") == 0
            assert not pending.done()
            release.set()
            status, _, body = pending.result(timeout=30)
        finally:
            release.set()
    assert status == 200 and json.loads(body)["outputs"][0]["shape"] == [1]


def test_metrics_count_requests_failures_and_latency(client, server):
    before = metric(server, "onyx_inference_requests_total", model="cnn")
    client.infer("cnn", [infer_input("pixels", RNG.random((1, 3, 16, 16), dtype=np.float32), "FP32", True)])
    assert metric(server, "onyx_inference_requests_total", model="cnn") == before + 1
    with pytest.raises(InferenceServerException):
        client.infer("cnn", [infer_input("pixels", RNG.random((1, 3, 8, 8), dtype=np.float32), "FP32", True)])
    assert metric(server, "onyx_inference_failures_total", model="cnn", status="400") >= 1
    assert metric(server, "onyx_compute_duration_seconds_count", model="cnn") >= 1
    assert metric(server, "onyx_queue_duration_seconds_count", model="cnn") >= 1


def test_tritonclient_sees_error_messages(client):
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        client.infer("nope", [infer_input("image", digits_batch(1), "FP32", False)])
    with pytest.raises(InferenceServerException, match="datatype 'FP64' but the model takes FP32"):
        client.infer("digits", [infer_input("image", digits_batch(1).astype(np.float64), "FP64", True)])


def test_demo_model_list_says_which_widget_fits(server):
    status, _, body = http(server, "/demo/models")
    models = {(m["name"], m["version"]): m for m in json.loads(body)}
    assert status == 200
    assert models["digits", "1"]["kind"] == "digits" and models["digits", "1"]["input_range"] == [0, 16]
    assert models["cnn", "1"]["kind"] == "image" and models["cnn", "1"]["labels"] == CNN_LABELS
    assert models["cnn", "1"]["input_shape"] == [1, 3, 16, 16]
    assert models["fixed", "1"]["kind"] == "other"
    for path in ("/", "/static/demo.js", "/static/demo.css"):
        assert http(server, path)[0] == 200
