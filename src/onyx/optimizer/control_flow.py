"""Folding inside subgraphs, and If nodes whose condition is a constant replaced by their branch.

The other declutter passes see the main graph only; exporters that script a model's Python
(PyTorch's TorchScript path, Silero's VAD) leave most of its work inside If branches and Loop
bodies: Constant nodes, shape arithmetic on values whose shapes the branch knows (the rank of
an LSTM state, a Conv's channel count), and Ifs testing it. Each of those is a step per run.

``fold_subgraphs`` folds constants and shapes in every subgraph, innermost last, with the
enclosing graphs' constants visible (copied in as the subgraph's own initializers where it
reads them: the same arrays) and the value types of one shape inference over all scopes
(names defined in more than one scope left out); then an If
whose condition is now a constant becomes its chosen branch's nodes, followed by an Identity
per output (removed again by identity elimination). A branch is inlined only when none of
the names it defines is used anywhere else in the model, so no scope gains a clashing name.
The input model's subgraphs are never modified: changed ones are new Graph objects.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping

import numpy as np
from onnx import TypeProto

from onyx.model.graph import Graph, Model, Node
from onyx.model.inference import infer_types
from onyx.model.topology import graph_free_names, subgraphs_of
from onyx.optimizer.constant_folding import fold_constants, fold_shapes
from onyx.optimizer.editor import prune
from onyx.optimizer.simplify import eliminate_dead_code, eliminate_identities


def fold_subgraphs(model: Model) -> None:
    """Fold constants and shapes inside subgraphs and inline Ifs with constant conditions."""
    graph = model.graph
    if not any(subgraphs_of(node) for node in graph.nodes):
        return
    defined = _definitions(graph)
    overridable = {v.name for v in graph.inputs}
    constants = {k: v for k, v in graph.initializers.items() if k not in overridable}
    # one shape inference for every scope; names defined in several scopes are left out
    types = infer_types(model, nested=True) if _reads_shapes(graph) else {}
    types = {name: tp for name, tp in types.items() if defined[name] <= 1}
    if _fold_graph(model, graph, constants, types, defined):
        eliminate_identities(model)
        fold_constants(model)
        eliminate_dead_code(model)


def _fold_graph(model: Model, graph: Graph, constants: Mapping[str, np.ndarray],
                types: Mapping[str, TypeProto], defined: Counter) -> bool:
    """Fold the subgraphs of ``graph``'s nodes, then inline its constant-condition Ifs; True if
    any If was inlined (``graph`` itself is edited: the caller owns it)."""
    for node in graph.nodes:
        for key, value in node.attrs.items():
            if isinstance(value, Graph):
                node.attrs[key] = _folded_subgraph(model, value, constants, types, defined)
    inlined = False
    kept: list[Node] = []
    for node in graph.nodes:
        branch = _constant_branch(node, graph, constants)
        if branch is not None and _inlinable(node, branch, defined):
            kept.extend(branch.nodes)
            kept.extend(Node("Identity", [inner.name], [outer], name=f"{node.name or node.outputs[0]}/{inner.name}")
                        for inner, outer in zip(branch.outputs, node.outputs) if outer)
            graph.initializers.update(branch.initializers)
            graph.value_info.update(branch.value_info)
            inlined = True
            continue
        kept.append(node)
    graph.nodes = kept
    return inlined


def _folded_subgraph(model: Model, sub: Graph, constants: Mapping[str, np.ndarray],
                     types: Mapping[str, TypeProto], defined: Counter) -> Graph:
    """A folded copy of subgraph ``sub`` (``sub`` itself when nothing changed)."""
    own = {v.name for v in sub.inputs} | set(sub.initializers) | {o for n in sub.nodes for o in n.outputs}
    free = graph_free_names(sub)
    borrowed = {n: constants[n] for n in free if n in constants and n not in own}
    graph = dataclasses.replace(
        sub,
        nodes=[dataclasses.replace(n, inputs=list(n.inputs), outputs=list(n.outputs), attrs=dict(n.attrs))
               for n in sub.nodes],
        inputs=list(sub.inputs),
        outputs=list(sub.outputs),
        initializers={**sub.initializers, **borrowed},
        value_info=dict(sub.value_info),
    )
    sub_model = dataclasses.replace(model, graph=graph)
    before = [(n.op_type, tuple(n.inputs), tuple(n.outputs)) for n in graph.nodes]
    fold_constants(sub_model)
    fold_shapes(sub_model, dict(types))
    # what nested subgraphs see: the enclosing constants less the names this subgraph defines
    # itself (it shadows them), and its own constants
    inner_constants = {k: v for k, v in constants.items() if k not in own}
    inner_constants.update((k, v) for k, v in graph.initializers.items() if k not in {i.name for i in sub.inputs})
    inlined = _fold_graph(sub_model, graph, inner_constants, types, defined)
    if inlined:
        eliminate_identities(sub_model)
        fold_constants(sub_model)
    prune(graph)
    after = [(n.op_type, tuple(n.inputs), tuple(n.outputs)) for n in graph.nodes]
    changed = inlined or before != after or any(
        new is not old for n_new, n_old in zip(graph.nodes, sub.nodes)
        for new, old in zip(subgraphs_of(n_new), subgraphs_of(n_old)))
    if not changed:
        return sub
    # borrowed constants nothing reads any more are gone (prune); those still read stay as the
    # subgraph's own initializers, the same arrays as the enclosing graph's
    return graph


def _constant_branch(node: Node, graph: Graph, constants: Mapping[str, np.ndarray]) -> Graph | None:
    """The branch an If node always takes, when its condition is a constant."""
    if node.op_type != "If" or node.domain:
        return None
    cond = node.inputs[0] if node.inputs else ""
    value = graph.initializers.get(cond) if cond not in {v.name for v in graph.inputs} else None
    if value is None:
        value = constants.get(cond)
    if value is None or value.size != 1:
        return None
    branch = node.attrs.get("then_branch" if bool(value.reshape(-1)[0]) else "else_branch")
    if not isinstance(branch, Graph) or len(branch.outputs) < len([o for o in node.outputs if o]):
        return None
    return branch


def _inlinable(node: Node, branch: Graph, defined: Counter) -> bool:
    """Whether ``branch``'s own names are defined nowhere else in the model (so moving them
    into the enclosing graph clashes with nothing), and it has no inputs."""
    if branch.inputs:
        return False
    local = Counter()
    for sub in subgraphs_of(node):
        local.update(_definitions(sub))
    names = set(branch.initializers) | {o for n in branch.nodes for o in n.outputs if o}
    return all(defined[name] <= local[name] for name in names)


def _definitions(graph: Graph) -> Counter:
    """How often each name is defined (input, initializer, node output) in ``graph`` and the
    graphs nested in it."""
    count = Counter(v.name for v in graph.inputs)
    count.update(list(graph.initializers))
    for node in graph.nodes:
        count.update(o for o in node.outputs if o)
        for sub in subgraphs_of(node):
            count.update(_definitions(sub))
    return count


def _reads_shapes(graph: Graph) -> bool:
    """Whether ``graph`` or a graph nested in it has Shape or Size nodes to fold."""
    return any(node.op_type in ("Shape", "Size") or any(_reads_shapes(g) for g in subgraphs_of(node))
               for node in graph.nodes)
