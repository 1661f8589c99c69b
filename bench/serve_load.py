"""Load test of ``onyx serve`` on loopback: N concurrent clients for T seconds (not run in CI).

    python bench/serve_load.py                       # digits and SqueezeNet, 8 clients, 60 s per row
    python bench/serve_load.py --models digits --seconds 10 --clients 4

For each model, three rows with the same clients: a plain ``InferenceSession.run`` loop in this
process (one session per client thread, no HTTP), and ``onyx serve`` in a child process with
dynamic batching (max batch 32, no added delay: a run takes what queued while the last one ran)
and without it (both servers up for the whole test). The three take turns (``--rounds``), so
that a busy moment of a shared machine does not land on one of them. Clients keep one HTTP
connection each and send Triton binary-tensor requests of one row. Prints throughput, p50/p99 latency, errors (non-200 replies and failed
connections) and, for the server, model runs and mean rows per run (from /metrics).
SqueezeNet is onnx's light_squeezenet with its batch dimension made symbolic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "src"))

import onyx  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def digits_model(folder: Path) -> tuple[Path, str, np.ndarray]:
    path = folder / "model.onnx"
    shutil.copy(ROOT / "examples" / "digits" / "digits.onnx", path)
    return path, "image", np.load(ROOT / "examples" / "digits" / "sample.npy")[:1]


def squeezenet_model(folder: Path) -> tuple[Path, str, np.ndarray]:
    model = onnx.load(LIGHT / "light_squeezenet.onnx")
    initializers = {t.name for t in model.graph.initializer}
    data = next(v for v in model.graph.input if v.name not in initializers)
    for value in (data, model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    del model.graph.value_info[:]
    path = folder / "model.onnx"
    onnx.save(model, path)
    return path, data.name, np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)


MODELS = {"digits": digits_model, "squeezenet": squeezenet_model}


def binary_request(name: str, array: np.ndarray) -> tuple[bytes, dict]:
    raw = np.ascontiguousarray(array, np.float32).tobytes()
    header = json.dumps({"inputs": [{"name": name, "shape": list(array.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream"}


class Tally:
    """Latencies, errors and timed seconds of one mode, added up over its rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.seconds = 0.0

    def summary(self) -> dict:
        every = np.asarray(self.latencies) * 1000
        p50, p99 = np.percentile(every, [50, 99]) if len(every) else (np.nan, np.nan)
        return {"requests": len(every), "throughput": len(every) / self.seconds, "p50_ms": float(p50),
                "p99_ms": float(p99), "errors": self.errors}


def drive(clients: int, seconds: float, call_factory, tally: Tally) -> None:
    """Run ``clients`` threads, each repeating its call for ``seconds`` (after all are ready), into ``tally``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at: list[float] = []
    start = threading.Barrier(clients + 1, action=lambda: stop_at.append(time.perf_counter() + seconds))

    def client(i: int) -> None:
        call = call_factory()
        start.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                ok = call()
            except Exception:  # noqa: BLE001 - a failed call is counted, the client goes on
                ok = False
                call = call_factory()
            if ok:
                latencies[i].append(time.perf_counter() - began)
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    tally.seconds += time.perf_counter() - began
    tally.latencies += [x for client_latencies in latencies for x in client_latencies]
    tally.errors += sum(errors)


def session_factory(path: Path, name: str, x: np.ndarray):
    """Each client: its own session, warmed up, called in a loop."""
    def factory():
        session = onyx.InferenceSession(str(path))
        session.run(None, {name: x})
        return lambda: session.run(None, {name: x}) is not None
    return factory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(repo: Path, max_batch_size: int, clients: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "onyx.cli", "serve", str(repo), "--port", str(port),
                               "--max-batch-size", str(max_batch_size), "--max-queue-size", str(4 * clients)],
                              stderr=subprocess.DEVNULL)
    wait_ready(port)
    return server, port


def http_factory(port: int, model: str, name: str, x: np.ndarray):
    """Each client: one keep-alive connection sending Triton binary-tensor requests of one row."""
    body, headers = binary_request(name, x)

    def call(connection: http.client.HTTPConnection) -> bool:
        connection.request("POST", f"/v2/models/{model}/infer", body, headers)
        reply = connection.getresponse()
        reply.read()
        return reply.status == 200

    def factory():
        warm_up = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        call(warm_up)
        warm_up.close()
        # a fresh connection for the timed calls, opened by the first of them: one left idle while
        # the other clients warm up would outlive the server's keep-alive timeout
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        return lambda: call(connection)
    return factory


def wait_ready(port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v2/health/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"onyx serve did not start on port {port}")


def scrape(port: int, model: str) -> tuple[float, float]:
    """Model runs and rows run, from the server's /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    values = {}
    for line in text.splitlines():
        for metric in ("onyx_model_runs_total", "onyx_batch_size_sum"):
            if line.startswith(metric + "{") and f'model="{model}"' in line:
                values[metric] = float(line.rsplit(" ", 1)[1])
    return values.get("onyx_model_runs_total", 0), values.get("onyx_batch_size_sum", 0)


MODES = {"InferenceSession loop": None, "serve, batching": 32, "serve, no batching": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60, help="Timed seconds per mode and model.")
    parser.add_argument("--rounds", type=int, default=3, help="The modes take turns this many times.")
    parser.add_argument("--json", help="Also write the rows to this file.")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; onyx {onyx.__version__}; {args.clients} clients, {args.seconds:g} s per row "
          f"in {args.rounds} turns")
    print(f"{'model':<11} {'mode':<22} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'runs':>7} {'rows/run':>8}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        for model in args.models:
            (repo / model / "1").mkdir(parents=True)
            path, name, x = MODELS[model](repo / model / "1")
            servers = {mode: start_server(repo, size, args.clients) for mode, size in MODES.items() if size is not None}
            try:
                factories = {mode: session_factory(path, name, x) if mode not in servers
                             else http_factory(servers[mode][1], model, name, x) for mode in MODES}
                tallies = {mode: Tally() for mode in MODES}
                for _ in range(args.rounds):
                    for mode in MODES:
                        drive(args.clients, args.seconds / args.rounds, factories[mode], tallies[mode])
                for mode, tally in tallies.items():
                    result = tally.summary()
                    if mode in servers:
                        runs, rows_run = scrape(servers[mode][1], model)
                        result.update(runs=runs, rows_per_run=rows_run / runs if runs else 0)
                    rows.append({"model": model, "mode": mode, **result})
                    print(f"{model:<11} {mode:<22} {result['requests']:>9} {result['throughput']:>8.1f} "
                          f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {result['errors']:>6} "
                          f"{result.get('runs', ''):>7} {result.get('rows_per_run', 0) or '':>8.4}", flush=True)
            finally:
                for server, _ in servers.values():
                    server.send_signal(signal.SIGTERM)
                    server.wait(60)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
