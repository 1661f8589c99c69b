"""Plans for values that stay on a device: feeds already there, results wanted there.

A session's plan takes its inputs on the host and gives its outputs there: it copies an input to
each device whose steps read it (``MemcpyFromHost``) and every output made on a device back
(``MemcpyToHost``). IOBinding may bind an input that already lives on a provider's device and ask
for an output on it; :func:`placed_plan` derives, from the session's plan, one that takes those
inputs in their device slot (its copy step dropped; a copy to the host added first only where a
host step reads them) and gives those outputs from their device slot (the copy back dropped where
nothing else reads it). The steps and kernels are the plan's own: nothing is compiled again.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

from typing import Any

import numpy as np

from onyx import devices
from onyx.model.graph import Node
from onyx.providers.base import HOST
from onyx.runtime.plan import Plan, Step


def placed_plan(plan: Plan, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> Plan:
    """``plan`` taking the graph inputs ``inputs`` (name -> device) as values on that device and
    giving the graph outputs ``outputs`` (name -> device) on that device. Devices are those of
    the plan's providers; an output not made on its device is given on the host as before."""
    placed = copy.copy(plan)
    placed._template = list(plan._template)
    steps = [dataclasses.replace(step) for step in plan.steps]
    reads = list(plan._implicit_reads)
    input_slots = list(plan.input_slots)
    device_slots: dict[tuple[str, str], int] = {}
    host_copies: set[int] = set()  # host slots of device feeds: views of the caller's tensors

    def drop(step: Step) -> None:
        index = steps.index(step)
        del steps[index], reads[index]

    for name, device in inputs.items():
        if device == HOST:
            continue
        host = plan._slots[name]
        slot = plan._copies.get((name, device))
        if slot is None:
            slot = len(placed._template)
            placed._template.append(None)
        elif (step := _copy_step(steps, slot)) is not None:
            drop(step)
        device_slots[name, device] = slot
        input_slots[plan.input_names.index(name)] = slot
        if _is_read(host, steps, reads, plan.output_slots):
            node = Node("MemcpyToHost", [name], [name], domain="ai.onyx", name=f"copy '{name}' from {device}")
            steps.insert(0, Step(node=node, fn=plan._by_device[device].to_host, inputs=(slot,), outputs=(host,), outer=None))
            reads.insert(0, ())
            host_copies.add(host)

    output_slots = list(plan.output_slots)
    for name, device in outputs.items():
        slot = device_slots.get((name, device))
        if slot is None and plan._devices.get(name, HOST) == device != HOST:
            slot = plan._slots[name]
        if slot is None:
            continue
        position = plan.output_names.index(name)
        host_copy = output_slots[position]
        output_slots[position] = slot
        step = _copy_step(steps, host_copy)
        if step is not None and not _is_read(host_copy, steps, reads, output_slots):
            drop(step)

    placed.steps, placed._implicit_reads = steps, reads
    placed.input_slots, placed.output_slots = input_slots, output_slots
    placed._add_frees()
    for step in steps:  # a host copy of a CPU tensor may share the caller's memory: never written into
        step.donors = tuple(p for p in step.donors if step.inputs[p] not in host_copies)
    return placed


class DevicePlans:
    """A session's placed plans, each built at its first use, and which of the plan's devices
    holds torch tensors on which torch device."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._plans: dict[tuple, Plan] = {}
        self._by_torch_device: dict[Any, str] | None = None

    def plan_device(self, torch_device: Any) -> str | None:
        """The plan device whose provider keeps its values as torch tensors on ``torch_device``
        (read from a value it makes), or None when no provider of the plan runs there."""
        if self._by_torch_device is None:
            found = {}
            for provider in self.plan.providers:
                if provider.device != HOST:
                    sample = provider.to_device(np.zeros(1, np.float32))
                    if devices.is_device_tensor(sample):
                        found.setdefault(sample.device, provider.device)
            self._by_torch_device = found
        return self._by_torch_device.get(torch_device)

    def placed(self, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> Plan:
        """The plan for this placement (see placed_plan)."""
        key = (tuple(sorted(inputs.items())), tuple(sorted(outputs.items())))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = placed_plan(self.plan, inputs, outputs)
        return plan


def _copy_step(steps: list[Step], slot: int) -> Step | None:
    """The copy step writing ``slot``, if a step writes it."""
    return next((s for s in steps if s.outputs == (slot,) and s.node.op_type.startswith("Memcpy")), None)


def _is_read(slot: int, steps: list[Step], reads: list[tuple[int, ...]], output_slots: list[int]) -> bool:
    return slot in output_slots or any(slot in step.inputs or slot in extra for step, extra in zip(steps, reads))
