"""Node-by-node comparison of onyx against another runtime.

Both runtimes run the model with every intermediate value of the main graph exposed
(onyx through ``InferenceSession.run_with_intermediates``; onnxruntime by declaring every
node output a graph output; onnx's reference evaluator with ``intermediate=True``). Values
are compared in onyx's execution order, so the first divergent node is where the runtimes
start to disagree; later differences usually follow from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import onnx

from onyx.errors import InvalidArgument

AGAINST = ("onnxruntime", "reference")


@dataclass
class ValueComparison:
    """One node output compared; errors are NaN where they do not apply."""

    value: str
    node: str
    op_type: str
    shape: list[int] | None
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    ok: bool = True
    note: str = ""


@dataclass
class CompareReport:
    against: str
    rtol: float
    atol: float
    rows: list[ValueComparison] = field(default_factory=list)
    first: ValueComparison | None = None  # the first divergent value, None when all agree
    first_input_shapes: list[list[int] | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shape(value: Any) -> list[int] | None:
    return list(value.shape) if isinstance(value, np.ndarray) else None


def compare_values(ours: Any, theirs: Any, rtol: float, atol: float) -> tuple[float, float, bool, str]:
    """(max abs error, max relative error, within tolerance, note) of two values. The relative
    error is taken over the elements whose expected (``theirs``) magnitude exceeds ``atol``."""
    nan = float("nan")
    if not isinstance(ours, np.ndarray) or not isinstance(theirs, np.ndarray):
        if isinstance(ours, np.ndarray) or isinstance(theirs, np.ndarray):
            return nan, nan, False, f"{type(ours).__name__} vs {type(theirs).__name__}"
        return nan, nan, True, "not a tensor: skipped"
    if ours.shape != theirs.shape:
        return nan, nan, False, f"shape {list(ours.shape)} vs {list(theirs.shape)}"
    if ours.dtype == object or theirs.dtype == object or ours.dtype.kind in "SU":
        same = bool(np.array_equal(ours, theirs))
        return nan, nan, same, "" if same else "strings differ"
    if ours.size == 0:
        return 0.0, 0.0, True, ""
    a, b = ours.astype(np.float64), theirs.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff) | (np.isinf(a) != np.isinf(b)), np.inf, diff)
    diff = np.where((a == b) | both_nan, 0.0, diff)  # equal infinities
    scale = np.abs(np.nan_to_num(b))
    significant = scale > atol  # relative error only where the expected value is not ~0
    rel = np.where(significant, diff / np.where(significant, scale, 1.0), 0.0)
    ok = bool(np.all(diff <= atol + rtol * scale))
    note = "" if ours.dtype == theirs.dtype else f"dtype {ours.dtype} vs {theirs.dtype}"
    return float(diff.max()), float(rel.max()), ok and not note, note


def _with_all_outputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``proto`` whose main graph also outputs every node's outputs."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    declared = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in declared:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    return exposed


def run_onnxruntime(proto: onnx.ModelProto, feeds: dict[str, Any]) -> dict[str, Any]:
    """Every node output of the main graph as onnxruntime computes it (optimizations off)."""
    try:
        import onnxruntime
    except ImportError:
        raise InvalidArgument("--against onnxruntime needs onnxruntime installed (pip install onnxruntime)") from None
    exposed = _with_all_outputs(proto)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def run_reference(proto: onnx.ModelProto, feeds: dict[str, Any]) -> dict[str, Any]:
    """Every value as onnx's reference evaluator computes it. The reference evaluator is the
    oracle being compared against here, imported only when the user asks for it; onyx's own
    execution never uses it."""
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(proto).run(None, feeds, intermediate=True)


def load_full_proto(model: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """The model's protobuf with external data read in (the other runtime needs it)."""
    from onyx.model.loader import read_proto

    if isinstance(model, (str, os.PathLike)):
        read_proto(model)  # onyx's errors for missing or corrupt files
        return onnx.load(os.fspath(model))
    return read_proto(model)[0]


def compare(
    model: str | os.PathLike | bytes | onnx.ModelProto,
    feeds: dict[str, Any],
    against: str = "onnxruntime",
    rtol: float = 1e-4,
    atol: float = 1e-5,
    progress: Callable[[str], None] | None = None,
    session: Any = None,
) -> CompareReport:
    """Run ``model`` in onyx (``session``, or a new one) and in ``against`` on ``feeds`` and
    compare every node output in onyx's execution order."""
    from onyx.options import GraphOptimizationLevel, SessionOptions
    from onyx.session import InferenceSession

    if against not in AGAINST:
        raise InvalidArgument(f"cannot compare against '{against}'; choose one of {', '.join(AGAINST)}")
    say = progress or (lambda message: None)
    say("running onyx")
    if session is None:
        options = SessionOptions()  # compare the graph as saved, node by node
        options.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
        session = InferenceSession(model, options)
    _, ours = session.run_with_intermediates(None, feeds)
    say(f"running {against}")
    proto = load_full_proto(model)
    theirs = (run_onnxruntime if against == "onnxruntime" else run_reference)(proto, feeds)
    say("comparing")
    producers = {name: node for node in proto.graph.node for name in node.output if name}
    report = CompareReport(against, rtol, atol)
    for name, value in ours.items():
        node = producers.get(name)
        row = ValueComparison(name, node.name if node else "?", node.op_type if node else "?", _shape(value))
        if name not in theirs:
            row.note = f"{against} does not produce it"
        else:
            row.max_abs, row.max_rel, row.ok, row.note = compare_values(value, theirs[name], rtol, atol)
        report.rows.append(row)
        if not row.ok and report.first is None:
            report.first = row
            known = {**feeds, **ours}
            initializers = {t.name: list(t.dims) for t in proto.graph.initializer}
            report.first_input_shapes = [
                _shape(known[i]) if i in known else initializers.get(i) for i in (node.input if node else [])
            ]
    return report
