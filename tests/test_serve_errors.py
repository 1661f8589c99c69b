"""Every bad request gets a 4xx JSON error from onyx serve, and the server keeps answering."""

from __future__ import annotations

import json

import numpy as np
import pytest
from serving import http, make_repository, require, running_server

require("starlette", "uvicorn", "prometheus_client")

MAX_BODY = 64 * 1024
IMAGE = {"name": "image", "shape": [1, 64], "datatype": "FP32", "data": [1.0] * 64}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(make_repository(tmp_path_factory.mktemp("serve")), max_body_bytes=MAX_BODY) as address:
        yield address


def post(server: str, path: str, body: bytes, headers: dict | None = None) -> tuple[int, str]:
    status, reply_headers, reply = http(server, path, body, {"Content-Type": "application/json", **(headers or {})})
    assert reply_headers["content-type"].startswith("application/json")
    return status, json.loads(reply)["error"]


def infer_json(server: str, request: object, model: str = "digits") -> tuple[int, str]:
    return post(server, f"/v2/models/{model}/infer", json.dumps(request).encode())


def assert_error(reply: tuple[int, str], status: int, message: str) -> None:
    assert reply[0] == status and message in reply[1], reply


def binary_request(inputs: list[dict], blobs: list[bytes], header_length_delta: int = 0) -> tuple[bytes, dict]:
    header = json.dumps({"inputs": inputs}).encode()
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header) + header_length_delta)}


@pytest.mark.parametrize("path, status, message", [
    ("/v2/models/nope/infer", 404, "unknown model 'nope'"),
    ("/v2/models/digits/versions/7/infer", 404, "unknown version '7' of model 'digits'"),
    ("/v2/models/digits/versions/x/infer", 404, "unknown version 'x'"),
    ("/v2/models/a..b/infer", 400, "invalid model name"),
    ("/v2/models/../infer", 400, "invalid model name"),
    ("/v2/models/..%2F..%2Fetc%2Fpasswd/infer", 404, "Not Found"),
    ("/v2/models/%2Fetc%2Fpasswd/infer", 404, "Not Found"),
    ("/v2/nothing/here", 404, "Not Found"),
])
def test_unknown_models_versions_and_paths(server, path, status, message):
    assert_error(post(server, path, json.dumps({"inputs": [IMAGE]}).encode()), status, message)


@pytest.mark.parametrize("request_body, message", [
    ({"inputs": "image"}, "must be a JSON object with an 'inputs' list"),
    ([IMAGE], "must be a JSON object with an 'inputs' list"),
    ({"inputs": [dict(IMAGE, datatype="INT64")]}, "datatype 'INT64' but the model takes FP32"),
    ({"inputs": [dict(IMAGE, shape=[64])]}, "shape [64] does not match the model's [-1, 64]"),
    ({"inputs": [dict(IMAGE, shape=[1, 63])]}, "shape [1, 63] does not match"),
    ({"inputs": [dict(IMAGE, shape=[2, 64])]}, "data has 64 elements but shape [2, 64] needs 128"),
    ({"inputs": [dict(IMAGE, shape=[1, -64])]}, "'shape' must be a list of non-negative integers"),
    ({"inputs": [dict(IMAGE, data=["a"] * 64)]}, "must hold numbers only"),
    ({"inputs": [dict(IMAGE, data=1.0)]}, "'data' must be a JSON list"),
    ({"inputs": [{k: v for k, v in IMAGE.items() if k != "data"}]}, "has neither 'data' nor a binary_data_size"),
    ({"inputs": []}, "missing inputs ['image']"),
    ({"inputs": [IMAGE, IMAGE]}, "input 'image' is given twice"),
    ({"inputs": [dict(IMAGE, name="picture")]}, "unknown input 'picture'"),
    ({"inputs": [IMAGE], "outputs": [{"name": "logits"}]}, "unknown output 'logits'"),
    ({"inputs": [IMAGE], "outputs": [{"name": "label", "parameters": {"classification": -1}}]},
     "classification must be a non-negative integer"),
    ({"inputs": [IMAGE], "parameters": []}, "parameters must be a JSON object"),
])
def test_malformed_requests_are_400(server, request_body, message):
    assert_error(infer_json(server, request_body), 400, message)


def test_malformed_json_is_400(server):
    status, message = post(server, "/v2/models/digits/infer", b'{"inputs": [')
    assert status == 400 and message.startswith("malformed JSON")
    status, message = post(server, "/v2/models/digits/infer", b"\xff\xfe")
    assert status == 400 and message.startswith("malformed JSON")


def test_fixed_shape_and_string_tensors_are_checked(server):
    numbers = {"name": "numbers", "shape": [2, 3], "datatype": "INT32", "data": list(range(6))}
    words = {"name": "words", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}
    assert infer_json(server, {"inputs": [dict(numbers, shape=[3, 2]), words]}, "fixed")[0] == 400
    assert infer_json(server, {"inputs": [dict(numbers, data=[2 ** 40] * 6), words]}, "fixed")[0] == 400
    assert infer_json(server, {"inputs": [numbers, dict(words, data=[1, 2])]}, "fixed") == (
        400, "input 'words': BYTES data must hold strings, not int")


@pytest.mark.parametrize("case, message", [
    ("short", "binary data has 252 bytes but shape [1, 64] of FP32 needs 256"),
    ("past_end", "binary_data_size 300 runs past the 256 bytes"),
    ("leftover", "the body holds 260 bytes of binary data but the inputs use 256"),
    ("header_too_long", "Inference-Header-Content-Length is"),
    ("bytes_prefix", "BYTES data ends inside an element"),
])
def test_binary_length_mismatches_are_400(server, case, message):
    raw = np.ones((1, 64), np.float32).tobytes()
    image = {"name": "image", "shape": [1, 64], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}
    model = "digits"
    if case == "short":
        body, headers = binary_request([dict(image, parameters={"binary_data_size": 252})], [raw[:252]])
    elif case == "past_end":
        body, headers = binary_request([dict(image, parameters={"binary_data_size": 300})], [raw])
    elif case == "leftover":
        body, headers = binary_request([image], [raw, b"1234"])
    elif case == "header_too_long":
        body, headers = binary_request([image], [raw], header_length_delta=10_000)
    else:
        model = "fixed"
        numbers = {"name": "numbers", "shape": [2, 3], "datatype": "INT32", "data": list(range(6))}
        words = {"name": "words", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}
        body, headers = binary_request([numbers, words], [b"\x05\x00\x00\x00ab"])
    assert_error(post(server, f"/v2/models/{model}/infer", body, headers), 400, message)


def test_oversized_body_is_413(server):
    big = {"inputs": [dict(IMAGE, shape=[2000, 64], data=[1.0] * 128_000)]}
    status, message = infer_json(server, big)
    assert status == 413 and f"over the limit of {MAX_BODY}" in message


def test_oversized_gzip_body_is_413(server):
    import gzip

    body = gzip.compress(json.dumps({"inputs": [dict(IMAGE, shape=[2000, 64], data=[1.0] * 128_000)]}).encode())
    assert len(body) < MAX_BODY
    status, message = post(server, "/v2/models/digits/infer", body, {"Content-Encoding": "gzip"})
    assert status == 413 and "decompressed request body" in message


def test_gzip_body_is_accepted_and_unknown_encoding_is_415(server):
    import gzip

    body = json.dumps({"inputs": [IMAGE]}).encode()
    status, _, reply = http(server, "/v2/models/digits/infer", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(reply)["outputs"][0]["name"] == "label"
    assert post(server, "/v2/models/digits/infer", body, {"Content-Encoding": "br"})[0] == 415


def test_wrong_method_is_a_json_405(server):
    status, _, reply = http(server, "/v2/models/digits/infer", method="GET")
    assert status == 405 and "error" in json.loads(reply)


def test_server_still_answers_after_bad_requests(server):
    assert http(server, "/v2/health/ready")[0] == 200
    status, _, reply = http(server, "/v2/models/digits/infer", json.dumps({"inputs": [IMAGE]}).encode())
    assert status == 200 and json.loads(reply)["outputs"][0]["shape"] == [1]
