"""The execution provider protocol: what a provider says it can run, how it runs it, and
how values reach its device.

A plan is built per graph in four moves: every provider, in the user's order, claims nodes
(``capability``); the partitioner cuts the graph into partitions of one provider each;
each partition is turned into steps (``emit``, by default one step calling ``compile``'s
callable); values are copied to and from a device where a partition reads a value that
lives elsewhere (``to_device`` / ``to_host``). See docs/providers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from onyx.model.graph import Graph, Node

HOST = "cpu"


@dataclass
class Partition:
    """Nodes of one graph that one provider runs as a unit, in execution order.

    ``inputs`` are the values it reads from outside (node inputs and names its nodes'
    subgraphs read), ``outputs`` the values it makes that something outside reads
    (a later partition, a graph output or an enclosing subgraph reader).
    """

    provider: str
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    index: int = 0

    def describe(self) -> str:
        return f"partition {self.index} ({self.provider}, {len(self.nodes)} node(s))"


class StepBuilder(Protocol):
    """What a provider may ask of the plan under construction (onyx.runtime.plan.Plan)."""

    graph: Graph
    opset: dict[str, int]

    def add_step(self, node: Node, fn: Callable[..., Any], inputs: Sequence[str], outputs: Sequence[str],
                 device: str, implicit: Sequence[str] | None = None) -> None: ...


class ExecutionProvider:
    """Base class of providers. A subclass sets ``name`` and ``device`` and implements
    ``capability`` and ``compile``; it overrides ``to_device``/``to_host`` when its device
    holds values in another form than NumPy arrays."""

    name: ClassVar[str] = ""
    device: ClassVar[str] = HOST

    def __init__(self, options: Mapping[str, Any] | None = None):
        self.options = dict(options or {})

    def capability(self, graph: Graph, opset: Mapping[str, int]) -> Iterable[Node]:
        """The nodes of ``graph`` (not of its subgraphs) this provider will run."""
        raise NotImplementedError

    def compile(self, partition: Partition, graph: Graph) -> Callable[..., tuple]:
        """One callable running the whole partition: it takes the values of
        ``partition.inputs`` (on this provider's device), in order, and returns a tuple of
        the values of ``partition.outputs`` (on this device)."""
        raise NotImplementedError

    def fusions(self) -> Sequence[Any]:
        """This provider's own optimizer passes (onyx.optimizer.OptimizerPass), run on its
        partitions after the device-neutral phase (onyx.optimizer.codegen)."""
        return ()

    def to_device(self, value: Any) -> Any:
        """``value`` (a host value) as this provider's device holds it."""
        return value

    def to_host(self, value: Any) -> Any:
        """A value of this device as a host value (a NumPy array, list, dict or None)."""
        return value

    def emit(self, partition: Partition, builder: StepBuilder) -> None:
        """Add the steps running ``partition`` to the plan: one step calling ``compile``'s result."""
        node = Node("Partition", list(partition.inputs), list(partition.outputs), domain="ai.onyx",
                    name=f"{self.name} partition {partition.index}")
        builder.add_step(node, self.compile(partition, builder.graph), partition.inputs, partition.outputs,
                         self.device)


@dataclass(frozen=True)
class PartitionSummary:
    """What ``InferenceSession.get_provider_assignment`` reports for one partition.

    ``graph`` is the path of graph names from the main graph down to the subgraph or
    function body holding the partition ("main", "main/then_branch", ...).
    """

    graph: str
    index: int
    provider: str
    nodes: tuple[str, ...]  # node names; an unnamed node shows as its op type in brackets
    op_types: tuple[str, ...]
    kernels: tuple[str, ...] = ()  # per node: the kernel its step runs ("numpy", a compiled one, ...)
