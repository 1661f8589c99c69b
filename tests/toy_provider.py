"""A toy execution provider for the tests: it claims Relu and Add only and runs them with
NumPy on a fake device, whose values CPU kernels cannot read, so a missing copy fails."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from onyx.model.graph import Graph, Node
from onyx.providers import ExecutionProvider, Partition

TOY = "ToyExecutionProvider"


class OnToyDevice:
    """A value held by the toy device."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray):
        self.data = data


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, x.dtype.type(0))


_OPS: dict[str, Callable[..., np.ndarray]] = {"Relu": _relu, "Add": np.add}


class ToyProvider(ExecutionProvider):
    name = TOY
    device = "toy"
    copies = {"to_device": 0, "to_host": 0}  # counted across instances, reset by the tests

    def capability(self, graph: Graph, opset: Mapping[str, int]) -> Iterable[Node]:
        return [n for n in graph.nodes if n.domain == "" and n.op_type in _OPS]

    def compile(self, partition: Partition, graph: Graph) -> Callable[..., tuple]:
        nodes = [(_OPS[n.op_type], n.inputs, n.outputs[0]) for n in partition.nodes]
        inputs, outputs = list(partition.inputs), list(partition.outputs)

        def run(*args: OnToyDevice) -> tuple:
            assert all(type(a) is OnToyDevice for a in args), "a value reached the toy device without a copy"
            env = {name: a.data for name, a in zip(inputs, args)}
            for op, names, out in nodes:
                env[out] = op(*(env[n] for n in names))
            return tuple(OnToyDevice(env[n]) for n in outputs)

        return run

    def to_device(self, value: np.ndarray) -> OnToyDevice:
        ToyProvider.copies["to_device"] += 1
        return OnToyDevice(np.asarray(value))

    def to_host(self, value: OnToyDevice) -> np.ndarray:
        assert type(value) is OnToyDevice
        ToyProvider.copies["to_host"] += 1
        return value.data
