"""Graph facts every stage needs: execution order and the names subgraphs read from
enclosing scopes. They describe the model, so the optimizer and the runtime share them."""

from __future__ import annotations

import heapq

from onyx.errors import InvalidGraph
from onyx.model.graph import Graph, Node


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
    """The graphs held in ``node``'s attributes (If branches, Loop and Scan bodies, ...)."""
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
