"""A real two-node Ray cluster on this machine, on loopback addresses only, for the tests.

The head node is started with ``ray start --head`` on 127.0.0.1; the second node (its own
raylet and object store) joins it through ``ray_node.py``. ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
keeps Ray from replacing 127.0.0.1 by the machine's outward address (Ray's servers then
listen on 127.0.0.1 only); ``ray start`` refuses to join a second node under that setting, so
the second node is started as ``ray start`` starts it, from Python. Every process the cluster
started is killed by its id when the cluster stops, whatever happened in between.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
OBJECT_STORE_BYTES = 100 * 1024 * 1024
ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
NODE_SCRIPT = Path(__file__).with_name("ray_node.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Ray head node exited with code {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the Ray head node did not open port {port} in {timeout:.0f} s")


def _descendants(pids: list[int]) -> list[int]:
    """Every live process below ``pids`` (Ray's workers start their own sessions, so a process
    group does not hold them all)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class RayCluster:
    """``with RayCluster() as cluster:`` gives ``cluster.address`` with two nodes joined."""

    def __init__(self, num_cpus_per_node: int = 1) -> None:
        self.num_cpus = num_cpus_per_node
        self.port = _free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.temp_dir = tempfile.mkdtemp(prefix="onyx-ray-", dir="/tmp")  # short: Ray's socket paths
        self.env = {**os.environ, **ENV}
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "RayCluster":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(os.path.join(self.temp_dir, log_name), "wb")
        process = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def _start(self) -> None:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        common = [f"--num-cpus={self.num_cpus}", f"--object-store-memory={OBJECT_STORE_BYTES}",
                  f"--temp-dir={self.temp_dir}", "--disable-usage-stats"]
        head = self._spawn([ray_cli, "start", "--head", "--block", f"--node-ip-address={LOOPBACK}",
                            f"--port={self.port}", "--include-dashboard=false", *common], "head.log")
        _wait_for_port(self.port, head, timeout=90)
        self._spawn([sys.executable, str(NODE_SCRIPT), self.address, str(self.num_cpus),
                     str(OBJECT_STORE_BYTES), self.temp_dir], "node.log")

    def wait_for_nodes(self, count: int, timeout: float = 90) -> None:
        """After ``ray.init(address=cluster.address)``: wait until ``count`` nodes are alive."""
        import ray

        deadline = time.monotonic() + timeout
        while sum(node["Alive"] for node in ray.nodes()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} Ray nodes were not alive after {timeout:.0f} s: {self.logs()}")
            time.sleep(0.5)

    def logs(self) -> str:
        return "\n".join(Path(self.temp_dir, name).read_text(errors="replace")[-2000:]
                         for name in ("head.log", "node.log") if Path(self.temp_dir, name).exists())

    def stop(self) -> None:
        """Kill every process the cluster started, by id, and remove its files."""
        for pid in _descendants([p.pid for p in self.processes]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            process.wait(timeout=30)
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
