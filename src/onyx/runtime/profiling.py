"""Session profiling: a Chrome-trace event list with onnxruntime's event fields.

The file ``end_profiling()`` writes is a JSON array of complete ("ph": "X") events that
chrome://tracing and Perfetto open directly. Like onnxruntime's, each kernel event is
``{"cat": "Node", "name": "<node>_kernel_time", "args": {"op_name": ..., ...}}``, and the
session contributes ``session_initialization`` and ``model_run`` events (cat "Session").
Times are microseconds (with fractions) since the session started.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable

import numpy as np

from onyx.model.graph import Node
from onyx.model.types import elem_type_name, elem_type_of

PROVIDER = "CPUExecutionProvider"


def _type_shape(values: list[Any]) -> list[dict[str, list[int]]]:
    """onnxruntime's ``[{"float": [1, 3]}, ...]`` description of values."""
    described = []
    for value in values:
        if isinstance(value, np.ndarray):
            try:
                name = elem_type_name(elem_type_of(value.dtype))
            except (TypeError, ValueError):
                name = value.dtype.name
            described.append({name: list(value.shape)})
        elif value is not None:
            described.append({type(value).__name__: []})
    return described


class TraceRecorder:
    """Collects trace events for one session; ``write`` saves them as ``{prefix}_{timestamp}.json``."""

    def __init__(self, prefix: str, start_ns: int | None = None):
        """``start_ns``: the perf_counter_ns() reading events are timed from (default: now)."""
        now = time.perf_counter_ns()
        self.prefix = prefix
        self.start_ns = now if start_ns is None else start_ns
        self.start_wall_ns = time.time_ns() - (now - self.start_ns)
        self.events: list[dict[str, Any]] = []
        self._pid = os.getpid()
        self._tid = threading.get_native_id()
        self._node_names: dict[int, str] = {}

    def _us(self, perf_ns: int) -> float:
        return round((perf_ns - self.start_ns) / 1000, 3)

    def session_event(self, name: str, started_ns: int, ended_ns: int, **args: Any) -> None:
        """A session-level span (initialization, one run) between two perf_counter_ns readings."""
        self.events.append({
            "cat": "Session", "pid": self._pid, "tid": self._tid, "dur": round((ended_ns - started_ns) / 1000, 3),
            "ts": self._us(started_ns), "ph": "X", "name": name, "args": args,
        })

    def node_name(self, node: Node) -> str:
        """The node's name, or a stable ``OpType_<n>`` for unnamed nodes."""
        key = id(node)
        if key not in self._node_names:
            self._node_names[key] = node.name or f"{node.op_type}_{len(self._node_names)}"
        return self._node_names[key]

    def observer(self) -> Callable[[Node, list[Any], float], None]:
        """A ``Plan.run`` observer that records one "Node" event per executed step."""

        def observe(node: Node, outputs: list[Any], seconds: float) -> None:
            ended = time.perf_counter_ns()
            dur_ns = int(seconds * 1e9)
            arrays = [v for v in outputs if isinstance(v, np.ndarray)]
            self.events.append({
                "cat": "Node", "pid": self._pid, "tid": self._tid, "dur": round(dur_ns / 1000, 3),
                "ts": self._us(ended - dur_ns), "ph": "X", "name": f"{self.node_name(node)}_kernel_time",
                "args": {
                    "op_name": node.op_type,
                    "node_name": self.node_name(node),
                    "provider": PROVIDER,
                    "output_type_shape": _type_shape(outputs),
                    "output_size": str(sum(a.nbytes for a in arrays if a.dtype != object)),
                },
            })

        return observe

    def write(self) -> str:
        """Save the events; returns the file name."""
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(self.start_wall_ns / 1e9))
        path = f"{self.prefix}_{stamp}.json"
        with open(path, "w", encoding="utf-8") as f:
            f.write("[\n" + ",\n".join(json.dumps(e) for e in self.events) + "\n]\n")
        return path
