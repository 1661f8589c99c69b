"""If, Loop and Scan. Their subgraph attributes arrive as plans built at session
creation; ``_outer`` carries the enclosing values the subgraphs read."""

from __future__ import annotations

from typing import Any

import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis
from onyx.runtime.control import loop_check


def _stack(values: list[np.ndarray], body: Any, output_index: int, axis: int = 0) -> np.ndarray:
    """Per-iteration outputs stacked on a new ``axis``; an empty, typed array when there are none."""
    if values:
        return np.stack(values, axis=axis)
    info = body.graph.outputs[output_index]
    dims = [d if isinstance(d, int) else 0 for d in (info.shape or [])]
    return np.zeros([0] + dims, dtype=info.dtype or np.float32)


@kernel("If", since=1)
def if_(cond, *, then_branch, else_branch, _outer):
    branch = then_branch if bool(np.asarray(cond).reshape(-1)[0]) else else_branch
    return tuple(branch.run([], _outer))


@kernel("Loop", since=1)
def loop(max_trip_count, cond, *initial, body, _outer):
    if max_trip_count is None and cond is None:
        raise ValueError("Loop has neither a trip count nor a condition, so it would never end")
    trip_limit = None if max_trip_count is None else int(np.asarray(max_trip_count).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    carried = list(initial)
    n_carried = len(carried)
    scans: list[list[Any]] | None = None
    i = 0
    check = loop_check()
    while keep_going and (trip_limit is None or i < trip_limit):
        if check:
            check()
        outputs = body.run([np.array(i, dtype=np.int64), np.array(keep_going), *carried], _outer)
        if cond is not None:
            keep_going = bool(np.asarray(outputs[0]).reshape(-1)[0])
        carried = outputs[1 : 1 + n_carried]
        per_iteration = outputs[1 + n_carried :]
        if scans is None:
            scans = [[] for _ in per_iteration]
        for acc, value in zip(scans, per_iteration):
            acc.append(value)
        i += 1
    n_scans = len(body.output_names) - 1 - n_carried
    scans = scans if scans is not None else [[] for _ in range(n_scans)]
    stacked = [_stack(acc, body, 1 + n_carried + k) for k, acc in enumerate(scans)]
    return tuple(carried + stacked)


def _scan(states, scan_inputs, body, outer, in_axes, in_dirs, out_axes, out_dirs):
    """One scan over ``scan_inputs`` (no batch axis), as Scan-9+ defines it."""
    n_states = len(states)
    inputs = [np.moveaxis(x, normalize_axis(a, x.ndim), 0) for x, a in zip(scan_inputs, in_axes)]
    inputs = [x[::-1] if d else x for x, d in zip(inputs, in_dirs)]
    lengths = {x.shape[0] for x in inputs}
    if len(lengths) > 1:
        raise ValueError(f"scan inputs have different lengths along their scan axes: {sorted(lengths)}")
    steps = lengths.pop() if lengths else 0
    n_outputs = len(body.output_names) - n_states
    collected: list[list[Any]] = [[] for _ in range(n_outputs)]
    check = loop_check()
    for t in range(steps):
        if check:
            check()
        outputs = body.run([*states, *(x[t] for x in inputs)], outer)
        states = outputs[:n_states]
        for acc, value in zip(collected, outputs[n_states:]):
            acc.append(value)
    results = []
    for k, acc in enumerate(collected):
        if out_dirs[k]:
            acc = acc[::-1]
        stacked = _stack(acc, body, n_states + k)
        results.append(np.moveaxis(stacked, 0, normalize_axis(out_axes[k], stacked.ndim)))
    return list(states), results


@kernel("Scan", since=9)
def scan(*values, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
         scan_output_axes=None, scan_output_directions=None, _outer):
    n_states = len(values) - num_scan_inputs
    n_outputs = len(body.output_names) - n_states
    states, outputs = _scan(
        list(values[:n_states]), list(values[n_states:]), body, _outer,
        scan_input_axes or [0] * num_scan_inputs, scan_input_directions or [0] * num_scan_inputs,
        scan_output_axes or [0] * n_outputs, scan_output_directions or [0] * n_outputs,
    )
    return tuple(states + outputs)


@kernel("Scan", since=8)
def scan_8(sequence_lens, *values, body, num_scan_inputs, directions=None, _outer):
    """Scan-8: every input has a leading batch axis and the scan runs along axis 1."""
    n_states = len(values) - num_scan_inputs
    n_outputs = len(body.output_names) - n_states
    directions = directions or [0] * num_scan_inputs
    batch = values[0].shape[0]
    final_states: list[list[Any]] = [[] for _ in range(n_states)]
    scan_outputs: list[list[Any]] = [[] for _ in range(n_outputs)]
    for b in range(batch):
        length = values[n_states].shape[1] if sequence_lens is None else int(sequence_lens[b])
        states, outputs = _scan(
            [v[b] for v in values[:n_states]], [v[b][:length] for v in values[n_states:]], body, _outer,
            [0] * num_scan_inputs, directions, [0] * n_outputs, [0] * n_outputs,
        )
        for acc, s in zip(final_states, states):
            acc.append(s)
        for acc, o in zip(scan_outputs, outputs):
            acc.append(o)
    longest = max((o.shape[0] for acc in scan_outputs for o in acc), default=0)
    padded = [
        [np.pad(o, [(0, longest - o.shape[0])] + [(0, 0)] * (o.ndim - 1)) for o in acc] for acc in scan_outputs
    ]
    return tuple([np.stack(acc) for acc in final_states] + [np.stack(acc) for acc in padded])
