"""A plan's steps as one generated Python function: the executor's fast path.

``Plan.run`` walking its step list pays, per step, for building the argument list, looking
up the step's fields, testing for observers and limits, storing the result and clearing
freed slots: about 5 us, several times what NumPy needs for a small elementwise kernel.
Here the steps become straight-line code, generated once per plan after it has been walked
``COMPILE_AFTER_RUNS`` times (a session run once or twice does not pay for compiling):
values live in a list indexed by constants, kernels and constants are names bound in the
function's namespace, each freed value is set to None right after its last reader, and one
``try`` around the body names the failed step by the index the body keeps in ``_i``::

    def run(inputs, outer, control):
        v = [None] * 6
        v[2], = inputs
        _i = 0
        v[4] = k0(v[2], c3)
        if v[4].__class__ is not ndarray: v[4] = as_value(v[4])
        v[2] = None
        ...

Compiling costs about as much as 40 walked runs of tiny nodes (0.5-1.7 ms a step here,
where a walked step costs 5 us), so plans of more than ``MAX_COMPILED_STEPS`` steps, whose
kernels outweigh the walk, are always walked.

What the step walker does is kept: the same frees (so peak memory is the same), in-place
steps (onyx.runtime.in_place, with the same reference counts: the value list and an argument
list, as in the walker), the size check of
steps whose outputs can grow, and the same errors. Runs with an observer (profiling,
run_with_intermediates), under RunOptions or a time limit, or with an explicit memory
budget take the step walker, which checks between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from onyx.runtime import in_place

COMPILE_AFTER_RUNS = 2  # runs a plan is walked before its steps are compiled (the tests set 0)
MAX_COMPILED_STEPS = 2000  # larger plans are always walked

# signature of the generated function
StraightLine = Callable[[Sequence[Any], "Mapping[str, Any] | None", Any], list]


def as_value(result: Any) -> Any:
    """A kernel's result for a step with one output as a plan value: the first of a tuple,
    NumPy scalars as 0-d arrays."""
    if type(result) is tuple:
        result = result[0] if result else None
    return np.asarray(result) if isinstance(result, np.generic) else result


def as_values(result: Any, count: int) -> list[Any]:
    """A kernel's result for a step with ``count`` outputs, one value (or None) per output."""
    if type(result) is not tuple:
        return [as_value(result)] + [None] * (count - 1)
    values = [np.asarray(v) if isinstance(v, np.generic) else v for v in result[:count]]
    return values + [None] * (count - len(values))


def compile_steps(plan: Any, on_failure: Callable[[Any, Exception], None]) -> StraightLine:
    """The generated function running ``plan``'s steps (see the module's docstring);
    ``on_failure(step, exc)`` raises the error a step raising ``exc`` becomes."""
    code, namespace = _generate(plan)
    namespace["on_failure"] = on_failure
    exec(compile(code, f"<onyx plan {plan.graph.name!r}>", "exec"), namespace)  # noqa: S102 - code made here
    return namespace["run"]


def source(plan: Any) -> str:
    """The Python source generated for ``plan`` (what ``compile_steps`` runs), for reading."""
    return _generate(plan)[0]


def _generate(plan: Any) -> tuple[str, dict[str, Any]]:
    """The source of ``run`` for ``plan``'s steps and the names it reads besides its arguments."""
    steps = plan.steps
    template = plan._template
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "as_value": as_value, "as_values": as_values,
                                 "in_place": in_place, "steps": steps}
    names: dict[int, str] = {0: "None"}
    lines = ["def run(inputs, outer, control):", f"    v = [None] * {len(template)}"]
    inputs = []
    for slot in plan.input_slots:
        names[slot] = f"v[{slot}]"
        inputs.append(names[slot])
    if inputs:
        lines.append(f"    {', '.join(inputs)}, = inputs")
    for name, slot in plan.outer_slots:
        if slot not in names:
            names[slot] = f"v[{slot}]"
            lines.append(f"    {names[slot]} = outer[{name!r}]")
    body = []

    def read(slot: int) -> str:
        if slot not in names:
            constant = template[slot]
            if constant is None:  # read before any step makes it: the walker reads None too
                return "None"
            names[slot] = f"c{slot}"
            namespace[names[slot]] = constant
        return names[slot]

    for index, step in enumerate(steps):
        kernel = f"k{index}"
        namespace[kernel] = step.fn
        args = ", ".join(read(s) for s in step.inputs)
        for slot in step.outputs:
            if slot != 1:
                names[slot] = f"v[{slot}]"
        targets = [names[s] if s != 1 else "_" for s in step.outputs]
        body.append(f"    _i = {index}")
        call = f"{kernel}({args})"
        if step.outer is not None:
            outer_items = ", ".join(f"{n!r}: {read(s)}" for n, s in step.outer)
            call = f"{kernel}({args}{', ' if args else ''}_outer={{{outer_items}}})"
        if step.donors:
            ufunc = f"u{index}"
            namespace[ufunc] = in_place.UFUNCS[step.node.op_type]
            a, b = (read(s) for s in step.inputs)
            body += [f"    _a = [{a}, {b}]",
                     f"    _o = in_place.donor(_a, {step.donors!r})",
                     "    _a = None",
                     f"    _o = {ufunc}({a}, {b}, out=_o) if _o is not None else {call}"]
            call = "_o"
        if len(targets) == 1:
            target = targets[0]
            body += [f"    {target} = {call}",
                     f"    if {target}.__class__ is not ndarray: {target} = as_value({target})"]
        elif targets:
            body.append(f"    {', '.join(targets)}, = as_values({call}, {len(targets)})")
        else:
            body.append(f"    {call}")
        if step.donors:
            body.append("    _o = None")
        if step.grows:
            for slot, target in zip(step.outputs, targets):
                if slot != 1:
                    body.append(f"    control.check_value(steps[{index}].node, {target})")
        freed = [names[s] for s in step.free if s in names and names[s].startswith("v")]
        if freed:
            body.append(f"    {' = '.join(freed)} = None")
    outputs = ", ".join(read(s) for s in plan.output_slots)
    lines += ["    try:"] + ["    " + line for line in body or ["    pass"]]
    lines += ["    except Exception as exc:",
              "        on_failure(steps[_i], exc)",
              "        raise",
              f"    return [{outputs}]"]
    return "\n".join(lines) + "\n", namespace
