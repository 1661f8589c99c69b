"""Profiling a model: run it with ``SessionOptions.enable_profiling`` and turn the Chrome trace
into per-node and per-op-type time tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class ProfileRow:
    """Time spent in one node (``name`` is the node) or one op type (``name`` is the op type)."""

    name: str
    op_type: str
    calls: int
    total_us: float
    share: float  # of all kernel time

    @property
    def mean_us(self) -> float:
        return self.total_us / self.calls


@dataclass
class ProfileSummary:
    runs: int
    run_us: list[float]  # wall time of each profiled run
    kernel_us: float  # sum of all kernel times
    nodes: list[ProfileRow]  # slowest first
    op_types: list[ProfileRow]

    def to_dict(self) -> dict[str, Any]:
        rows = lambda items: [{**r.__dict__, "mean_us": r.mean_us} for r in items]  # noqa: E731
        return {"runs": self.runs, "run_us": self.run_us, "kernel_us": self.kernel_us,
                "nodes": rows(self.nodes), "op_types": rows(self.op_types)}


def load_trace(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def summarize_trace(events: list[dict[str, Any]], skip_runs: int = 0) -> ProfileSummary:
    """Aggregate "Node" events by node and by op type, ignoring the first ``skip_runs`` runs
    (warm-up)."""
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    start = runs[skip_runs - 1]["ts"] + runs[skip_runs - 1]["dur"] if 0 < skip_runs <= len(runs) else float("-inf")
    kept_runs = [e for e in runs if e["ts"] >= start]
    by_node: dict[str, list[Any]] = {}
    for e in events:
        if e.get("cat") != "Node" or e["ts"] < start:
            continue
        args = e.get("args", {})
        name = args.get("node_name", e["name"].removesuffix("_kernel_time"))
        entry = by_node.setdefault(name, [args.get("op_name", "?"), 0, 0.0])
        entry[1] += 1
        entry[2] += e["dur"]
    total = sum(entry[2] for entry in by_node.values()) or 1.0
    nodes = [ProfileRow(name, op, calls, us, us / total) for name, (op, calls, us) in by_node.items()]
    by_op: dict[str, list[Any]] = {}
    for row in nodes:
        entry = by_op.setdefault(row.op_type, [0, 0.0])
        entry[0] += row.calls
        entry[1] += row.total_us
    op_types = [ProfileRow(op, op, calls, us, us / total) for op, (calls, us) in by_op.items()]
    slowest = lambda r: -r.total_us  # noqa: E731
    return ProfileSummary(
        runs=len(kept_runs), run_us=[e["dur"] for e in kept_runs], kernel_us=sum(r.total_us for r in nodes),
        nodes=sorted(nodes, key=slowest), op_types=sorted(op_types, key=slowest),
    )


def profile_session(
    session: Any, feeds: dict[str, Any], runs: int, progress: Callable[[int], None] | None = None
) -> tuple[str, ProfileSummary]:
    """Run a session created with ``enable_profiling`` once to warm up and ``runs`` more times;
    returns the trace file and the summary of the profiled runs (warm-up excluded)."""
    for i in range(runs + 1):
        session.run(None, feeds)
        if progress:
            progress(i + 1)
    path = session.end_profiling()
    return path, summarize_trace(load_trace(path), skip_runs=1)
