"""A loopback HTTP server standing in for a model hub (and Hugging Face's file endpoint) in tests.

It serves a dict of files by URL path, honours ``Range: bytes=N-`` requests (206 answers), and
can drop a connection part-way through a file once, to test resuming. Also a helper that
writes a small model zoo: tiny generated models and their manifest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HF_COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubServer:
    """Serves ``files`` ({"/path": bytes}) on 127.0.0.1 until ``close()``."""

    def __init__(self, files: dict[str, bytes] | None = None):
        self.files = dict(files or {})
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.cut_after: dict[str, int] = {}  # path -> bytes sent before the connection drops (once)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                path = self.path.split("?")[0]
                byte_range = self.headers.get("Range")
                server.requests.append((self.command, path, byte_range))
                data = server.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if byte_range and byte_range.startswith("bytes="):
                    start = int(byte_range[6:].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                if "/resolve/" in path:  # what huggingface_hub reads from Hugging Face's file endpoint
                    self.send_header("X-Repo-Commit", HF_COMMIT)
                    self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.end_headers()
                if not body:
                    return
                cut = server.cut_after.pop(path, None)
                if cut is not None:
                    self.wfile.write(data[start:start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def tiny_model(scale: float, opset: int, size: int = 4, external: str | None = None) -> onnx.ModelProto:
    """y = x * w with w = scale everywhere; ``external`` stores w in that file beside the model."""
    w = numpy_helper.from_array(np.full([size], scale, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", size])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if external:
        onnx.external_data_helper.convert_model_to_external_data(model, location=external, size_threshold=0)
    return model


def make_zoo(tags: bool = True) -> tuple[dict[str, bytes], list[dict]]:
    """Files of a small zoo ({url path: bytes}) with its manifest at /ONNX_HUB_MANIFEST.json."""
    files: dict[str, bytes] = {}
    manifest = []
    for name, scale, opset, tag in (("TinyNet", 2.0, 13, "vision"), ("TinyNet", 3.0, 17, "vision"),
                                    ("TextToy", 5.0, 17, "text")):
        data = tiny_model(scale, opset, size=4096).SerializeToString()
        path = f"models/{name.lower()}/{name.lower()}-{opset}.onnx"
        files["/" + path] = data
        manifest.append({
            "model": name, "model_path": path, "onnx_version": onnx.__version__, "opset_version": opset,
            "metadata": {"model_sha": hashlib.sha256(data).hexdigest(), "model_bytes": len(data),
                         "tags": [tag, "tiny"] if tags else [],
                         "io_ports": {"inputs": [{"name": "x", "shape": ["batch", 4096], "type": "tensor(float)"}],
                                      "outputs": [{"name": "y", "shape": ["batch", 4096], "type": "tensor(float)"}]}},
        })
    files["/ONNX_HUB_MANIFEST.json"] = json.dumps(manifest, indent=1).encode()
    return files, manifest


def write_zoo(folder: Path) -> list[dict]:
    """The zoo of make_zoo() as files under ``folder``."""
    files, manifest = make_zoo()
    for path, data in files.items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return manifest
