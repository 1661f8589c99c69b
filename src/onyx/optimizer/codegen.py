"""The codegen phase: each provider's own fusions, run on its own partitions.

The graph (already decluttered) is partitioned as the plan will partition it. Where one
provider runs the whole graph its fusions run on the graph itself; otherwise each partition
of a provider with fusions is cut out as a graph of its own (its inputs and outputs are
the partition's borders, so no pass can swallow a value another partition reads), its
fusions run there, and the rewritten nodes and new constants are put back in its place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from onyx.model.graph import Graph, Model, Node, ValueInfo
from onyx.model.topology import topological_order
from onyx.optimizer import PassReport, run_passes
from onyx.optimizer.editor import prune
from onyx.options import GraphOptimizationLevel
from onyx.providers.base import ExecutionProvider, Partition
from onyx.providers.partition import partition_graph


def codegen(model: Model, level: GraphOptimizationLevel,
            providers: Sequence[ExecutionProvider]) -> list[PassReport]:
    """Run each provider's fusions on its partitions of ``model`` (a decluttered copy, edited in place)."""
    if level <= GraphOptimizationLevel.ORT_DISABLE_ALL or not any(p.fusions() for p in providers):
        return []
    if len(providers) == 1:  # the CPU provider alone: its partition is the graph
        return run_passes(model, providers[0].fusions(), level, "codegen")
    graph = model.graph
    order = topological_order(graph, {v.name for v in graph.inputs} | set(graph.initializers))
    partitions = partition_graph(graph, order, providers, model.opset, warn=False)
    by_name = {p.name: p for p in providers}
    if len(partitions) == 1:
        return run_passes(model, by_name[partitions[0].provider].fusions(), level, "codegen")
    reports: list[PassReport] = []
    for part in partitions:
        passes = by_name[part.provider].fusions()
        if passes:
            reports += _fuse_partition(model, part, passes, level)
    prune(graph)
    return reports


def _fuse_partition(model: Model, part: Partition, passes: Sequence, level: GraphOptimizationLevel) -> list[PassReport]:
    graph = model.graph
    overridable = {v.name for v in graph.inputs}
    declared = {v.name: v for v in graph.inputs} | graph.value_info
    constants = {n: graph.initializers[n] for n in part.inputs if n in graph.initializers and n not in overridable}
    sub = Graph(
        name=f"{graph.name}/{part.provider} partition {part.index}",
        nodes=list(part.nodes),
        inputs=[declared.get(n, ValueInfo(n)) for n in part.inputs if n not in constants],
        outputs=[declared.get(n, ValueInfo(n)) for n in part.outputs],
        initializers=constants,
        value_info=dict(graph.value_info),
    )
    piece = dataclasses.replace(model, graph=sub, opset=dict(model.opset))
    reports = run_passes(piece, passes, level, f"codegen {part.provider} partition {part.index}")
    model.opset.update(piece.opset)
    _put_back(graph, part.nodes, sub, set(constants))
    return reports


def _put_back(graph: Graph, old: list[Node], sub: Graph, known_constants: set[str]) -> None:
    """Replace ``old`` in ``graph`` by ``sub``'s nodes, with ``sub``'s new constants; names
    the rewrite made up that the rest of the graph already uses are renamed."""
    old_ids = {id(n) for n in old}
    kept_names = {n for node in old for n in node.outputs if n}
    outside = {v.name for v in graph.inputs} | set(graph.initializers) | {
        n for node in graph.nodes if id(node) not in old_ids for n in node.outputs if n}
    made = [n for node in sub.nodes for n in node.outputs if n and n not in kept_names]
    new_constants = [n for n in sub.initializers if n not in known_constants]
    rename = {}
    for name in made + new_constants:
        if name in outside:
            fresh, i = f"{name}_p", 1
            while fresh in outside or fresh in rename.values():
                fresh, i = f"{name}_p{i}", i + 1
            rename[name] = fresh
    for node in sub.nodes:
        node.inputs = [rename.get(n, n) for n in node.inputs]
        node.outputs = [rename.get(n, n) for n in node.outputs]
    for name in new_constants:
        graph.initializers[rename.get(name, name)] = sub.initializers[name]
    first = next(i for i, node in enumerate(graph.nodes) if id(node) in old_ids)
    rest = [node for node in graph.nodes if id(node) not in old_ids]
    graph.nodes = rest[:first] + sub.nodes + rest[first:]
