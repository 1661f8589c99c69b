"""`onyx serve` as a user starts it: a subprocess on a free port, graceful SIGTERM, the missing-extra message."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from serving import DIGITS, http, make_repository, require

require("starlette", "uvicorn", "prometheus_client")

IMAGE = {"name": "image", "shape": [1, 64], "datatype": "FP32", "data": [3.0] * 64}
SLOW_DELAY_MS = 1500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(address: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if http(address, "/v2/health/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"onyx serve did not become ready on {address}")


def test_sigterm_finishes_in_flight_requests_then_exits(tmp_path):
    repo = make_repository(tmp_path, {"slow": {"max_queue_delay_ms": SLOW_DELAY_MS}})
    port = free_port()
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "onyx.cli", "serve", str(repo), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_ready(address, process)
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(http, address, "/v2/models/slow/infer", json.dumps({"inputs": [IMAGE]}).encode())
            time.sleep(SLOW_DELAY_MS / 1000 / 3)  # the request waits in the batcher's queue
            assert not in_flight.done()
            process.send_signal(signal.SIGTERM)
            status, _, body = in_flight.result(timeout=30)
        assert status == 200 and json.loads(body)["outputs"][0]["name"] == "label"
        # uvicorn re-raises the signal once it has shut down, so the exit status says SIGTERM ended the server
        assert process.wait(timeout=30) == -signal.SIGTERM
        with pytest.raises(OSError):
            http(address, "/v2/health/live")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    log = process.stderr.read()
    assert "Application shutdown complete" in log and "Finished server process" in log


def test_missing_extra_is_a_clear_error(monkeypatch):
    import importlib.util

    from onyx.cli import main

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "uvicorn" else real_find_spec(name, *args))
    result = CliRunner().invoke(main, ["serve", str(DIGITS)])
    assert result.exit_code == 2
    assert "onyx serve needs uvicorn: pip install 'onyx-runtime[serve]'" in result.output


def test_importing_onyx_does_not_import_the_server():
    code = ("import sys, onyx, onyx.cli; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'prometheus_client', 'onyx.serve.app') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_a_bad_model_config_is_a_clear_error(tmp_path):
    from onyx.cli import main

    repo = make_repository(tmp_path, {"digits": {"max_batch_sise": 8}})
    result = CliRunner().invoke(main, ["serve", str(repo)])
    assert result.exit_code == 2 and "unknown model config keys ['max_batch_sise']" in result.output


def test_a_model_file_name_that_cannot_be_a_url_name_is_refused(tmp_path):
    import shutil

    from onyx.cli import main

    odd = tmp_path / "my digits.onnx"
    shutil.copy(DIGITS, odd)
    result = CliRunner().invoke(main, ["serve", str(odd)])
    assert result.exit_code == 2 and "may hold letters, digits, '_', '.' and '-' only" in result.output
