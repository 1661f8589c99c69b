"""KServe v2 inference requests and replies, JSON and Triton's binary tensor extension."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from onyx.serve.errors import RequestError
from onyx.serve.repository import Model
from onyx.serve.tensors import datatype_of_array, from_bytes, from_json, to_bytes, to_json

HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass
class RequestedOutput:
    name: str
    binary: bool
    class_count: int = 0


@dataclass
class InferRequest:
    """A checked request: feeds that match the model's inputs, and what to send back."""

    feeds: dict[str, np.ndarray]
    outputs: list[RequestedOutput]
    id: str | None = None
    rows: int = 1  # the leading (batch) dimension shared by every feed
    shape_key: tuple = field(default=())  # feeds with equal keys can be stacked into one run


def parse_request(model: Model, body: bytes, header_length: str | None) -> InferRequest:
    """Parse and check an infer request body against ``model``; every problem is a 400."""
    header_bytes, binary = _split_body(body, header_length)
    try:
        header = json.loads(header_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"malformed JSON in the request: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise RequestError("the request must be a JSON object with an 'inputs' list")
    parameters = _object(header.get("parameters", {}), "parameters")
    feeds, offset = {}, 0
    for entry in header["inputs"]:
        entry = _object(entry, "each input")
        name = entry.get("name")
        spec = model.input(name) if isinstance(name, str) else None
        if spec is None:
            raise RequestError(f"unknown input {name!r}; model '{model.name}' takes "
                               f"{[s.name for s in model.inputs]}")
        if name in feeds:
            raise RequestError(f"input '{name}' is given twice")
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise RequestError(f"input '{name}': 'shape' must be a list of non-negative integers")
        _check_shape(name, shape, spec.shape)
        datatype = entry.get("datatype")
        if datatype != spec.datatype:
            raise RequestError(f"input '{name}': datatype {datatype!r} but the model takes {spec.datatype}")
        size = _object(entry.get("parameters", {}), "input parameters").get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise RequestError(f"input '{name}': binary_data_size {size!r} runs past the {len(binary)} "
                                   f"bytes of binary data after the JSON header")
            feeds[name] = from_bytes(binary[offset:offset + size], datatype, shape)
            offset += size
        elif "data" in entry:
            feeds[name] = _named(name, lambda: from_json(entry["data"], datatype, shape))
        else:
            raise RequestError(f"input '{name}' has neither 'data' nor a binary_data_size parameter")
    if offset != len(binary):
        raise RequestError(f"the body holds {len(binary)} bytes of binary data but the inputs use {offset}")
    missing = [s.name for s in model.inputs if s.name not in feeds]
    if missing:
        raise RequestError(f"missing inputs {missing} for model '{model.name}'")
    request_id = header.get("id")
    return InferRequest(feeds, _requested_outputs(model, header, bool(parameters.get("binary_data_output"))),
                        id=str(request_id) if request_id is not None else None,
                        rows=_rows(model, feeds), shape_key=_shape_key(feeds))


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise RequestError(f"{HEADER_LENGTH} must be an integer, not {header_length!r}") from None
    if not 0 <= length <= len(body):
        raise RequestError(f"{HEADER_LENGTH} is {length} but the body has {len(body)} bytes")
    return body[:length], body[length:]


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise RequestError(f"{what} must be a JSON object")
    return value


def _named(name: str, make):
    try:
        return make()
    except RequestError as exc:
        raise RequestError(f"input '{name}': {exc}") from None


def _check_shape(name: str, shape: list[int], expected: list[int]) -> None:
    if len(shape) != len(expected) or any(e != -1 and d != e for d, e in zip(shape, expected)):
        raise RequestError(f"input '{name}': shape {shape} does not match the model's {expected} (-1: any size)")


def _rows(model: Model, feeds: dict[str, np.ndarray]) -> int:
    if not model.max_batch_size:
        return 1
    rows = {array.shape[0] for array in feeds.values()}
    if len(rows) != 1:
        raise RequestError(f"inputs disagree on the batch (first) dimension: {sorted(rows)}")
    return rows.pop()


def _shape_key(feeds: dict[str, np.ndarray]) -> tuple:
    return tuple(sorted((name, array.shape[1:]) for name, array in feeds.items()))


def _requested_outputs(model: Model, header: dict, binary_default: bool) -> list[RequestedOutput]:
    names = [spec.name for spec in model.outputs]
    entries = header.get("outputs")
    if entries is None:
        return [RequestedOutput(name, binary_default) for name in names]
    if not isinstance(entries, list):
        raise RequestError("'outputs' must be a list")
    requested = []
    for entry in entries:
        entry = _object(entry, "each requested output")
        if entry.get("name") not in names:
            raise RequestError(f"unknown output {entry.get('name')!r}; model '{model.name}' gives {names}")
        parameters = _object(entry.get("parameters", {}), "output parameters")
        count = parameters.get("classification", 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise RequestError(f"output '{entry['name']}': classification must be a non-negative integer")
        requested.append(RequestedOutput(entry["name"], bool(parameters.get("binary_data", binary_default)), count))
    return requested


def build_response(model: Model, request: InferRequest, results: dict[str, np.ndarray]) -> tuple[bytes, int | None]:
    """The reply body and, when some outputs are binary, the length of its JSON header."""
    outputs, chunks = [], []
    for wanted in request.outputs:
        array = results[wanted.name]
        if wanted.class_count:
            array = classify(array, wanted.class_count, model.labels, batched=bool(model.max_batch_size))
        entry = {"name": wanted.name, "datatype": datatype_of_array(array), "shape": list(array.shape)}
        if wanted.binary:
            data = to_bytes(array)
            entry["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            entry["data"] = to_json(array)
        outputs.append(entry)
    reply = {"model_name": model.name, "model_version": model.version, "outputs": outputs}
    if request.id is not None:
        reply["id"] = request.id
    header = json.dumps(reply).encode()
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def classify(scores: np.ndarray, count: int, labels: list[str] | None, batched: bool) -> np.ndarray:
    """Triton's classification extension: the top ``count`` classes as "score:index[:label]" strings."""
    rows = scores.reshape(scores.shape[0], -1) if batched and scores.ndim > 1 else scores.reshape(1, -1)
    if rows.dtype.kind not in "fiub":
        raise RequestError("classification needs a numeric output")
    count = min(count, rows.shape[1])
    top = np.argsort(-rows.astype(np.float64), axis=1, kind="stable")[:, :count]
    text = [[f"{row[i]:f}:{i}" + (f":{labels[i]}" if labels and i < len(labels) else "") for i in order]
            for row, order in zip(rows, top)]
    result = np.array(text, dtype=object).reshape(len(text), count)
    return result if batched and scores.ndim > 1 else result.reshape(count)


def error_body(message: str) -> bytes:
    """The JSON body of an error reply, as Triton sends it."""
    return json.dumps({"error": message}).encode()

