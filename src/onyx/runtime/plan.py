"""The execution plan: a graph compiled once into a flat list of steps.

Values live in a list of slots. Slot 0 always holds None (an absent optional
input) and slot 1 swallows outputs nobody named. Each step knows its kernel
(attributes already bound), the slots it reads and writes, and the slots whose
last reader it is, which it clears so intermediates are freed early.

The graph is cut into partitions by the session's providers (onyx.providers.partition);
each provider adds the steps of its partitions (the CPU provider one per node), and the
plan adds a copy step wherever a step reads a value that lives on another device.
"""

from __future__ import annotations

import functools
from time import perf_counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import onnx.helper

from onyx import compiled
from onyx.errors import InvalidGraph, KernelError, MemoryLimitExceeded, OnyxError
from onyx.model.graph import Function, Graph, Node
from onyx.model.topology import subgraph_free_names, topological_order
from onyx.model.types import elem_type_of
from onyx.providers.base import HOST, ExecutionProvider, Partition, PartitionSummary
from onyx.providers.cpu import CPUProvider
from onyx.providers.partition import partition_graph
from onyx.runtime import control as run_control
from onyx.runtime import in_place
from onyx.runtime import straight_line as straight_line_code
from onyx.runtime.straight_line import StraightLine

_NONE_SLOT = 0
_SINK_SLOT = 1

# observer(node, output values, seconds the kernel took)
Observer = Callable[[Node, list[Any], float], None]


@dataclass
class Step:
    node: Node
    fn: Callable[..., Any]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    outer: tuple[tuple[str, int], ...] | None  # None: the kernel takes no _outer
    free: tuple[int, ...] = ()
    donors: tuple[int, ...] = ()  # inputs that may take the result (see onyx.runtime.in_place)
    grows: bool = False  # outputs may outgrow the inputs: checked against the size budget (onyx.runtime.control)
    broadcasts: bool = False  # elementwise over broadcast inputs: checked before it runs under an explicit budget


class Plan:
    """A graph compiled for execution. ``run`` maps input values to output values."""

    def __init__(
        self,
        graph: Graph,
        opset: Mapping[str, int],
        outer_names: Container[str] = frozenset(),
        functions: Mapping[tuple[str, str], Function] | None = None,
        calling: frozenset[tuple[str, str]] = frozenset(),
        providers: Sequence[ExecutionProvider] | None = None,
    ):
        self.graph = graph
        self.opset = dict(opset)
        self.functions = dict(functions or {})
        self.calling = calling  # functions whose bodies enclose this plan (recursion guard)
        self.providers = tuple(providers) if providers else (CPUProvider(),)
        self.input_names = [v.name for v in graph.inputs]
        self.output_names = [v.name for v in graph.outputs]
        self._slots: dict[str, int] = {"": _NONE_SLOT}
        self._template: list[Any] = [None, None]
        self._declared: dict[str, Any] | None = None  # value name -> declared type, built on first use
        self._devices: dict[str, str] = {}  # value -> device, for values not on the host
        self._copies: dict[tuple[str, str], int] = {}  # (value, device) -> slot of its copy there
        self._by_device = {p.device: p for p in reversed(self.providers)}
        self._implicit_reads: list[tuple[int, ...]] = []  # per step: slots its subgraphs read
        self.subplans: list[Plan] = []  # plans of subgraphs and function bodies
        # the steps as generated code (onyx.runtime.straight_line), with the step list it was made
        # from: a copy of this plan with other steps (onyx.runtime.placement) makes its own
        self._straight_line: tuple[list[Step], StraightLine] | None = None
        self._walked = 0  # runs walked step by step while the generated code could have run

        for name, value in graph.initializers.items():
            self._template[self._slot(name)] = value
        self.input_slots = [self._slot(n) for n in self.input_names]
        defined = set(self._slots)
        order = topological_order(graph, defined)
        for node in order:
            defined.update(node.outputs)
        self.outer_slots = self._outer_slots(order, defined, outer_names)
        self.partitions: list[Partition] = partition_graph(graph, order, self.providers, self.opset)
        self.steps: list[Step] = []
        by_name = {p.name: p for p in self.providers}
        for part in self.partitions:
            by_name[part.provider].emit(part, self)
        for out in self.output_names:
            if out not in self._slots:
                raise InvalidGraph(f"graph '{graph.name}' output '{out}' is not produced by any node")
        self.output_slots = [self._slot_on(n, HOST) for n in self.output_names]
        self._add_frees()

    # -- building -----------------------------------------------------------------

    def _slot(self, name: str) -> int:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = len(self._template)
            self._template.append(None)
        return slot

    def _outer_slots(self, order: list[Node], defined: set[str], outer_names: Container[str]) -> list[tuple[str, int]]:
        needed: set[str] = set()
        for node in order:
            needed.update(n for n in node.inputs if n and n not in defined)
            needed |= subgraph_free_names(node) - defined
        needed.update(n for n in self.output_names if n not in defined)
        for name in sorted(needed):
            if name not in outer_names:
                reader = next((n.describe() for n in order if name in n.inputs), "a graph output")
                raise InvalidGraph(f"graph '{self.graph.name}': {reader} reads '{name}', which nothing defines")
        return [(name, self._slot(name)) for name in sorted(needed)]

    # -- what providers ask of the plan (onyx.providers.cpu.PlanBuilder) -------------

    def add_step(self, node: Node, fn: Callable[..., Any], inputs: Sequence[str], outputs: Sequence[str],
                 device: str, implicit: Sequence[str] | None = None) -> None:
        """Append a step running ``fn`` on ``device``: it reads ``inputs`` (there, copied if
        they live elsewhere), makes ``outputs`` (which then live there) and, when
        ``implicit`` is given, receives those enclosing values as ``_outer``."""
        if self._devices or device != HOST:
            slot_of = functools.partial(self._slot_on, device=device)
        else:
            slot_of = self._slots.__getitem__
        outer = None if implicit is None else tuple((n, slot_of(n)) for n in implicit)
        reads = tuple(slot_of(n) for n in sorted(subgraph_free_names(node))) if implicit is None else ()
        step = Step(
            node=node,
            fn=fn,
            inputs=tuple(slot_of(n) if n else _NONE_SLOT for n in inputs),
            outputs=tuple(self._slot(n) if n else _SINK_SLOT for n in outputs),
            outer=outer,
            grows=not node.domain and node.op_type in run_control.GROWING_OPS,
            broadcasts=not node.domain and node.op_type in run_control.BROADCASTING_OPS,
        )
        if device != HOST:
            self._devices.update((n, device) for n in outputs if n)
        self.steps.append(step)
        self._implicit_reads.append(reads + tuple(s for _, s in outer or ()))

    def subplan(self, graph: Graph, opset: Mapping[str, int] | None = None,
                calling: frozenset[tuple[str, str]] | None = None, nested: bool = True) -> Plan:
        """The plan of a subgraph (``nested``: it may read this plan's values) or of a function body."""
        plan = Plan(graph, self.opset if opset is None else opset, _Scope(self) if nested else frozenset(),
                    self.functions, self.calling if calling is None else calling, self.providers)
        self.subplans.append(plan)
        return plan

    def value_type(self, name: str) -> Any:
        """Declared TypeProto of a value of this graph, or None when the model does not say."""
        graph = self.graph
        if self._declared is None:
            infos = [*graph.value_info.values(), *reversed(graph.outputs), *reversed(graph.inputs)]
            self._declared = {info.name: info.type for info in infos}  # the first declaration wins
        if name in self._declared:
            return self._declared[name]
        if name in graph.initializers:
            value = graph.initializers[name]
            return onnx.helper.make_tensor_type_proto(elem_type_of(value.dtype), value.shape)
        return None

    def _slot_on(self, name: str, device: str) -> int:
        """The slot of ``name``'s value on ``device``, adding the steps that copy it there
        (through the host) the first time a device reads a value living elsewhere."""
        home = self._devices.get(name, HOST)
        if home == device:
            return self._slots[name]
        copy = self._copies.get((name, device))
        if copy is not None:
            return copy
        if device != HOST:
            source = self._slot_on(name, HOST)
            target = self._by_device[device].to_device
            direction = "MemcpyFromHost"
        else:
            source = self._slots[name]
            target = self._by_device[home].to_host
            direction = "MemcpyToHost"
        copy = self._copies[(name, device)] = len(self._template)
        self._template.append(None)
        if device != HOST and name in self.graph.initializers and name not in self.input_names:
            self._template[copy] = target(self._template[source])  # a constant is copied once, here
            return copy
        node = Node(direction, [name], [f"{name}@{device}"], domain="ai.onyx", name=f"copy '{name}' to {device}")
        self.steps.append(Step(node=node, fn=target, inputs=(source,), outputs=(copy,), outer=None))
        self._implicit_reads.append(())
        return copy

    def _add_frees(self) -> None:
        keep = set(self.output_slots) | {_NONE_SLOT, _SINK_SLOT}
        last_use: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for slot in step.inputs:
                last_use[slot] = i
            for slot in self._implicit_reads[i]:
                last_use[slot] = i
        frees: dict[int, list[int]] = {}
        for slot, i in last_use.items():
            if slot not in keep:
                frees.setdefault(i, []).append(slot)
        produced = {slot for step in self.steps for slot in step.outputs} - keep
        for i, step in enumerate(self.steps):
            # outputs nobody reads are dropped right after the step that makes them
            dead = [s for s in step.outputs if s not in last_use and s not in keep]
            step.free = tuple(frees.get(i, [])) + tuple(dead)
            step.donors = in_place.donor_positions(step.node, step.inputs, frees.get(i, ()), produced)

    def assignment(self, path: str = "") -> list[PartitionSummary]:
        """The partitions of this plan and of its subgraph and function-body plans, in order."""
        path = f"{path}/{self.graph.name}" if path else self.graph.name
        kernels = {id(step.node): compiled.kernel_name(step.fn) for step in self.steps}
        summaries = [
            PartitionSummary(path, part.index, part.provider,
                             tuple(n.name or f"[{n.op_type}]" for n in part.nodes), tuple(n.op_type for n in part.nodes),
                             tuple(kernels.get(id(n), part.provider) for n in part.nodes))
            for part in self.partitions
        ]
        for plan in self.subplans:
            summaries.extend(plan.assignment(path))
        return summaries

    # -- running -----------------------------------------------------------------

    def initial_values(self, inputs: Sequence[Any], outer: Mapping[str, Any] | None) -> list[Any]:
        """A run's value slots before the first step: constants, inputs, enclosing values."""
        values = self._template.copy()
        for slot, value in zip(self.input_slots, inputs):
            values[slot] = value
        if self.outer_slots:
            for name, slot in self.outer_slots:
                values[slot] = outer[name]
        return values

    def implicit_reads(self, index: int) -> tuple[int, ...]:
        """The slots step ``index``'s subgraphs read (beside its inputs)."""
        return self._implicit_reads[index]

    def run(
        self,
        inputs: Sequence[Any],
        outer: Mapping[str, Any] | None = None,
        observer: Observer | None = None,
    ) -> list[Any]:
        """Execute the steps; ``inputs`` align with the graph inputs, ``outer`` holds enclosing values.

        ``observer``, when given, is called after each step with the node, its output values
        and the seconds the kernel took (profiling, node-by-node comparison). The current run
        control (onyx.runtime.control) may stop the run between steps or refuse a value.
        """
        control = run_control.current()
        watching, check_all = control.watching, control.check_all
        if not (observer or watching or check_all) and len(inputs) == len(self.input_slots):
            compiled = self._straight_line
            if compiled is not None and compiled[0] is self.steps:
                return compiled[1](inputs, outer, control)
            if len(self.steps) <= straight_line_code.MAX_COMPILED_STEPS:
                if self._walked >= straight_line_code.COMPILE_AFTER_RUNS:
                    compiled = (self.steps, straight_line_code.compile_steps(self, raise_step_failure))
                    self._straight_line = compiled
                    return compiled[1](inputs, outer, control)
                self._walked += 1
        values = self.initial_values(inputs, outer)
        for step in self.steps:
            if watching:
                control.check(step.node)
            args = [values[i] for i in step.inputs]
            if check_all and step.broadcasts:
                control.check_broadcast(step.node, args)
            started = perf_counter() if observer else 0.0
            try:
                if step.donors and (out := in_place.donor(args, step.donors)) is not None:
                    result = in_place.UFUNCS[step.node.op_type](args[0], args[1], out=out)
                    del out
                elif step.outer is not None:
                    result = step.fn(*args, _outer={n: values[s] for n, s in step.outer})
                else:
                    result = step.fn(*args)
            except Exception as exc:
                raise_step_failure(step, exc)
            store_result(values, step.outputs, result)
            result = None  # the values list holds the only reference, so a later step may take it over
            if step.grows or check_all:
                for slot in step.outputs:
                    control.check_value(step.node, values[slot])
            if observer:
                observer(step.node, [values[s] for s in step.outputs], perf_counter() - started)
            for slot in step.free:
                values[slot] = None
        return [values[s] for s in self.output_slots]


def raise_step_failure(step: Step, exc: Exception) -> None:
    """Raise what a step's exception becomes for the caller: an out-of-memory or size-budget
    error naming the node, an OnyxError as it is, anything else as a KernelError naming the node."""
    if isinstance(exc, MemoryLimitExceeded):
        raise run_control.at_node(exc, step.node) from None
    if isinstance(exc, MemoryError):
        raise MemoryLimitExceeded(f"{step.node.describe()} ran out of memory: {exc}") from exc
    if isinstance(exc, OnyxError):
        raise exc
    raise KernelError(f"{step.node.describe()} failed: {type(exc).__name__}: {exc}") from exc


class _Scope:
    """The names a subgraph may read from the plan enclosing it: those the plan has defined so
    far and those it reads from its own enclosing scopes. A live view, so that building a
    subgraph's plan does not copy every name of a long outer graph (quadratic in its size)."""

    def __init__(self, plan: Plan):
        self._slots = plan._slots
        self._outer = {name for name, _ in plan.outer_slots}

    def __contains__(self, name: object) -> bool:
        return name in self._slots or name in self._outer


def store_result(values: list[Any], slots: tuple[int, ...], result: Any) -> None:
    """Put a kernel's result (one value or a tuple) into the output slots; NumPy scalars become arrays."""
    if not slots:
        return
    if type(result) is tuple:
        for slot, value in zip(slots, result):
            values[slot] = np.asarray(value) if isinstance(value, np.generic) else value
    else:
        values[slots[0]] = np.asarray(result) if isinstance(result, np.generic) else result
