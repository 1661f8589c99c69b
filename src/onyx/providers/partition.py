"""The partitioner: which provider runs each node, cut into partitions.

Providers claim nodes in the order the user listed them (onnxruntime's rule: the first
provider that claims a node runs it); the CPU provider is last and takes the rest. Nodes
are then ordered so that each provider keeps running while it has a node ready, which
gives maximal partitions that are contiguous in execution order, so contracting each into
one step can create no cycle.
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Sequence

from onyx.model.graph import Graph, Node
from onyx.model.topology import subgraph_free_names
from onyx.providers.base import ExecutionProvider, Partition

_NAMED_NODES = 10  # nodes a fallback warning names before it counts the rest


class ProviderFallbackWarning(UserWarning):
    """Nodes run on the CPU because no provider listed before it claims them."""


def partition_graph(graph: Graph, order: list[Node], providers: Sequence[ExecutionProvider],
                    opset: dict[str, int], warn: bool = True) -> list[Partition]:
    """``order`` (a topological order of ``graph``'s nodes) cut into partitions, in execution
    order; ``warn``: name the nodes that fall back to the CPU in a ProviderFallbackWarning."""
    if len(providers) == 1:
        return [_with_boundaries(Partition(providers[0].name, list(order), [], []), graph, {}, 0)]
    owner = _assign(graph, order, providers, opset)
    groups = _group(order, owner)
    produced_by: dict[str, int] = {}
    for index, (_, nodes) in enumerate(groups):
        for node in nodes:
            for name in node.outputs:
                if name:
                    produced_by[name] = index
    partitions = [Partition(providers[k].name, nodes, [], [], index) for index, (k, nodes) in enumerate(groups)]
    read_elsewhere: set[str] = {v.name for v in graph.outputs}
    for part in partitions:
        _with_boundaries(part, graph, produced_by, part.index)
        read_elsewhere.update(part.inputs)
    for part in partitions:
        part.outputs = [n for node in part.nodes for n in node.outputs if n and n in read_elsewhere]
    if warn:
        _warn_fallback(graph, partitions, providers)
    return partitions


def _assign(graph: Graph, order: list[Node], providers: Sequence[ExecutionProvider],
            opset: dict[str, int]) -> dict[int, int]:
    """id(node) -> index of the provider that runs it; unclaimed nodes go to the last (CPU),
    whose step building reports why it cannot run them."""
    owner: dict[int, int] = {}
    for k, provider in enumerate(providers):
        for node in provider.capability(graph, opset):
            owner.setdefault(id(node), k)
    last = len(providers) - 1
    return {id(node): owner.get(id(node), last) for node in order}


def _group(order: list[Node], owner: dict[int, int]) -> list[tuple[int, list[Node]]]:
    """(provider index, nodes) runs: a topological order that stays with one provider while it can."""
    producer: dict[str, int] = {}
    for i, node in enumerate(order):
        for name in node.outputs:
            if name:
                producer[name] = i
    waiting = [0] * len(order)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(order):
        for name in set(node.inputs) | subgraph_free_names(node):
            j = producer.get(name) if name else None
            if j is not None and j < i:
                waiting[i] += 1
                readers.setdefault(j, []).append(i)
    providers_of = [owner[id(node)] for node in order]
    ready: dict[int, list[int]] = {}
    for i, w in enumerate(waiting):
        if w == 0:
            ready.setdefault(providers_of[i], []).append(i)
    groups: list[tuple[int, list[Node]]] = []
    current = -1
    while any(ready.values()):
        if not ready.get(current):
            current = min((heap[0], k) for k, heap in ready.items() if heap)[1]
            groups.append((current, []))
        i = heapq.heappop(ready[current])
        groups[-1][1].append(order[i])
        for j in readers.get(i, ()):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready.setdefault(providers_of[j], []), j)
    return groups


def _with_boundaries(part: Partition, graph: Graph, produced_by: dict[str, int], index: int) -> Partition:
    """Fill ``part.inputs``: the names its nodes read that another partition or the graph's
    surroundings (inputs, initializers, enclosing scopes) provide, first read first."""
    made_here = {n for node in part.nodes for n in node.outputs if n}
    inputs: dict[str, None] = {}
    for node in part.nodes:
        for name in node.inputs:
            if name and name not in made_here:
                inputs[name] = None
        for name in sorted(subgraph_free_names(node)):
            if name not in made_here:
                inputs[name] = None
    part.inputs = list(inputs)
    part.index = index
    if not produced_by:
        part.outputs = [v.name for v in graph.outputs if v.name in made_here]
    return part


def _warn_fallback(graph: Graph, partitions: list[Partition], providers: Sequence[ExecutionProvider]) -> None:
    last = providers[-1].name
    fallen = [node for part in partitions if part.provider == last for node in part.nodes]
    if not fallen:
        return
    named = ", ".join(node.describe() for node in fallen[:_NAMED_NODES])
    more = f" and {len(fallen) - _NAMED_NODES} more" if len(fallen) > _NAMED_NODES else ""
    preferred = ", ".join(p.name for p in providers[:-1])
    warnings.warn(
        f"graph '{graph.name}': {len(fallen)} node(s) run on {last} because {preferred} does not claim them: "
        f"{named}{more}",
        ProviderFallbackWarning,
        stacklevel=2,
    )
