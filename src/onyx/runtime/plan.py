"""The execution plan: a graph compiled once into a flat list of steps.

Values live in a list of slots. Slot 0 always holds None (an absent optional
input) and slot 1 swallows outputs nobody named. Each step knows its kernel
(attributes already bound), the slots it reads and writes, and the slots whose
last reader it is, which it clears so intermediates are freed early.
"""

from __future__ import annotations

import functools
import heapq
from time import perf_counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import onnx.helper

from onyx.errors import InvalidGraph, KernelError, MemoryLimitExceeded, OnyxError, UnsupportedOperator
from onyx.model.graph import Function, Graph, Node
from onyx.model.types import elem_type_of
from onyx.ops import registry
from onyx.runtime import control as run_control
from onyx.runtime import in_place
from onyx.runtime.functions import call_function, function_graph, schema_function

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


def topological_order(graph: Graph, available: set[str]) -> list[Node]:
    """Nodes ordered so every input is produced before it is read (stable for sorted graphs)."""
    producers: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for out in node.outputs:
            if out:
                producers[out] = i
    waiting = [0] * len(graph.nodes)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(graph.nodes):
        for name in set(node.inputs) | subgraph_free_names(node):
            if name and name in producers and name not in available:
                waiting[i] += 1
                readers.setdefault(producers[name], []).append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]  # a heap: the earliest ready node runs first
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in readers.get(i, ()):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(graph.nodes):
        stuck = [graph.nodes[i].describe() for i, w in enumerate(waiting) if w > 0][:3]
        raise InvalidGraph(f"graph '{graph.name}' has a cycle through {', '.join(stuck)}")
    return [graph.nodes[i] for i in order]


def subgraphs_of(node: Node) -> list[Graph]:
    graphs: list[Graph] = []
    for value in node.attrs.values():
        if isinstance(value, Graph):
            graphs.append(value)
        elif isinstance(value, list) and value and isinstance(value[0], Graph):
            graphs.extend(value)
    return graphs


def graph_free_names(graph: Graph) -> set[str]:
    """Names a (sub)graph reads that it does not define: values from enclosing scopes."""
    defined = {v.name for v in graph.inputs} | set(graph.initializers)
    free: set[str] = set()
    for node in graph.nodes:
        defined.update(o for o in node.outputs if o)
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in defined:
                free.add(name)
        free |= subgraph_free_names(node) - defined
    for out in graph.outputs:
        if out.name not in defined:
            free.add(out.name)
    return free


def subgraph_free_names(node: Node) -> set[str]:
    """Outer-scope names read by the subgraphs of ``node`` (its implicit inputs)."""
    free: set[str] = set()
    for g in subgraphs_of(node):
        free |= graph_free_names(g)
    return free


class Plan:
    """A graph compiled for execution. ``run`` maps input values to output values."""

    def __init__(
        self,
        graph: Graph,
        opset: Mapping[str, int],
        outer_names: Container[str] = frozenset(),
        functions: Mapping[tuple[str, str], Function] | None = None,
        calling: frozenset[tuple[str, str]] = frozenset(),
    ):
        self.graph = graph
        self.opset = dict(opset)
        self.functions = dict(functions or {})
        self._calling = calling  # functions whose bodies enclose this plan (recursion guard)
        self.input_names = [v.name for v in graph.inputs]
        self.output_names = [v.name for v in graph.outputs]
        self._slots: dict[str, int] = {"": _NONE_SLOT}
        self._template: list[Any] = [None, None]
        self._declared: dict[str, Any] | None = None  # value name -> declared type, built on first use

        for name, value in graph.initializers.items():
            self._template[self._slot(name)] = value
        self.input_slots = [self._slot(n) for n in self.input_names]
        defined = set(self._slots)
        order = topological_order(graph, defined)
        for node in order:
            defined.update(node.outputs)
        self.outer_slots = self._outer_slots(order, defined, outer_names)
        self.steps = [self._step(node) for node in order]
        for out in self.output_names:
            if out not in self._slots:
                raise InvalidGraph(f"graph '{graph.name}' output '{out}' is not produced by any node")
        self.output_slots = [self._slots[n] for n in self.output_names]
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

    def _step(self, node: Node) -> Step:
        opset = self.opset.get(node.domain)
        if opset is None and (node.domain, node.op_type) in self.functions:
            return self._function_step(node, 1)
        if opset is None:
            raise InvalidGraph(
                f"{node.describe()} uses domain '{node.domain or 'ai.onnx'}', which the model does not import"
            )
        kdef = registry.lookup(node.domain, node.op_type, opset)
        if kdef is None:
            return self._function_step(node, opset)
        attrs = dict(node.attrs)
        unknown = set(attrs) - kdef.attribute_names
        if unknown and not kdef.accepts_any_attribute:
            raise InvalidGraph(
                f"{node.describe()} has attribute(s) {sorted(unknown)} that {node.op_type}-{kdef.since} "
                "does not define"
            )
        for key, value in attrs.items():
            if isinstance(value, Graph):
                attrs[key] = Plan(value, self.opset, _Scope(self), self.functions, self._calling)
        if kdef.wants_num_outputs:
            attrs["_num_outputs"] = len(node.outputs)
        fn = functools.partial(kdef.fn, **attrs) if attrs else kdef.fn
        implicit = sorted(subgraph_free_names(node)) if kdef.wants_outer else None
        return self._make_step(node, fn, implicit)

    def _make_step(self, node: Node, fn: Callable[..., Any], implicit: list[str] | None) -> Step:
        return Step(
            node=node,
            fn=fn,
            inputs=tuple(self._slots[n] if n else _NONE_SLOT for n in node.inputs),
            outputs=tuple(self._slot(n) if n else _SINK_SLOT for n in node.outputs),
            outer=None if implicit is None else tuple((n, self._slots[n]) for n in implicit),
            grows=not node.domain and node.op_type in run_control.GROWING_OPS,
            broadcasts=not node.domain and node.op_type in run_control.BROADCASTING_OPS,
        )

    def _function_step(self, node: Node, opset: int) -> Step:
        """A step running the body of a model-local or standard function (no kernel exists)."""
        key = (node.domain, node.op_type)
        if key in self._calling:
            raise InvalidGraph(f"function {node.domain}::{node.op_type} calls itself ({node.describe()})")
        function = self.functions.get(key)
        if function is None:
            function = schema_function(node, opset, [self._value_type(n) for n in node.inputs])
        if function is None:
            raise UnsupportedOperator(
                f"onyx has no kernel for {node.domain or 'ai.onnx'}::{node.op_type} at opset {opset} "
                f"(needed by {node.describe()})"
            )
        body = Plan(function_graph(function, node), {**self.opset, **function.opset}, functions=self.functions,
                    calling=self._calling | {key})
        return self._make_step(node, call_function(body, len(function.inputs)), None)

    def _value_type(self, name: str) -> Any:
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

    def _add_frees(self) -> None:
        keep = set(self.output_slots) | {_NONE_SLOT, _SINK_SLOT}
        last_use: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for slot in step.inputs:
                last_use[slot] = i
            for name in subgraph_free_names(step.node):
                last_use[self._slots[name]] = i
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

    # -- running -----------------------------------------------------------------

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
        values = self._template.copy()
        for slot, value in zip(self.input_slots, inputs):
            values[slot] = value
        if self.outer_slots:
            for name, slot in self.outer_slots:
                values[slot] = outer[name]
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
            except MemoryLimitExceeded as exc:
                raise run_control.at_node(exc, step.node) from None
            except MemoryError as exc:
                raise MemoryLimitExceeded(f"{step.node.describe()} ran out of memory: {exc}") from exc
            except OnyxError:
                raise
            except Exception as exc:
                raise KernelError(
                    f"{step.node.describe()} failed: {type(exc).__name__}: {exc}"
                ) from exc
            _store(values, step.outputs, result)
            result = None  # the values list holds the only reference, so a later step may take it over
            if step.grows or check_all:
                for slot in step.outputs:
                    control.check_value(step.node, values[slot])
            if observer:
                observer(step.node, [values[s] for s in step.outputs], perf_counter() - started)
            for slot in step.free:
                values[slot] = None
        return [values[s] for s in self.output_slots]


class _Scope:
    """The names a subgraph may read from the plan enclosing it: those the plan has defined so
    far and those it reads from its own enclosing scopes. A live view, so that building a
    subgraph's plan does not copy every name of a long outer graph (quadratic in its size)."""

    def __init__(self, plan: Plan):
        self._slots = plan._slots
        self._outer = {name for name, _ in plan.outer_slots}

    def __contains__(self, name: object) -> bool:
        return name in self._slots or name in self._outer


def _store(values: list[Any], slots: tuple[int, ...], result: Any) -> None:
    """Put a kernel's result (one value or a tuple) into the output slots; NumPy scalars become arrays."""
    if type(result) is tuple:
        for slot, value in zip(slots, result):
            values[slot] = np.asarray(value) if isinstance(value, np.generic) else value
    else:
        values[slots[0]] = np.asarray(result) if isinstance(result, np.generic) else result
