"""What every pass needs: a copy of the graph, who produces and who reads each value,
constant lookup, node replacement in place."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

import numpy as np
from onnx import TypeProto

from onyx.model.graph import Graph, Model, Node
from onyx.model.topology import subgraph_free_names, subgraphs_of, topological_order

ONYX_DOMAIN = "ai.onyx"
ONYX_DOMAIN_VERSION = 1
NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial"}
)


def copy_model(model: Model) -> Model:
    """A copy whose graph structure may be edited; arrays and subgraphs are shared (read-only)."""
    g = model.graph
    graph = dataclasses.replace(
        g,
        nodes=[dataclasses.replace(n, inputs=list(n.inputs), outputs=list(n.outputs), attrs=dict(n.attrs))
               for n in g.nodes],
        inputs=list(g.inputs),
        outputs=list(g.outputs),
        initializers=dict(g.initializers),
        value_info=dict(g.value_info),
    )
    available = {v.name for v in g.inputs} | set(g.initializers)
    graph.nodes = topological_order(graph, available)
    return dataclasses.replace(model, graph=graph, opset=dict(model.opset))


def has_subgraph(node: Node) -> bool:
    return bool(subgraphs_of(node))


class GraphEditor:
    """Producer/consumer maps of a graph and in-place rewrites that keep them current.

    A *pinned* value is a graph output or a name some subgraph reads: it must keep its
    name and its producer, so patterns never swallow it.
    """

    def __init__(self, model: Model):
        self.model = model
        self.graph: Graph = model.graph
        g = self.graph
        self.graph_inputs = {v.name for v in g.inputs}
        self.pinned = {v.name for v in g.outputs}
        self.producer: dict[str, Node] = {}
        self.consumers: dict[str, list[Node]] = defaultdict(list)
        self._position: dict[int, int] = {}
        for i, node in enumerate(g.nodes):
            self._position[id(node)] = i
            self.pinned |= subgraph_free_names(node)
            for name in node.outputs:
                if name:
                    self.producer[name] = node
            for name in node.inputs:
                if name:
                    self.consumers[name].append(node)
        self._removed: set[int] = set()
        self.memo: dict[str, Any] = {}  # what a pass computes once per graph (value ranks, ...)
        self._inserted: dict[int, list[Node]] = defaultdict(list)
        self._home: dict[int, int] = {}  # inserted node -> the original node it follows
        self._names = set(self.producer) | set(g.initializers) | self.graph_inputs

    # -- queries ----------------------------------------------------------------------

    def constant(self, name: str) -> np.ndarray | None:
        """The value of ``name`` when it is an initializer that feeds cannot override."""
        if name in self.graph_inputs:
            return None
        return self.graph.initializers.get(name)

    def conv_constants(self, conv: Node) -> tuple[np.ndarray, np.ndarray | None] | None:
        """A convolution's constant float weights and its constant bias (None where it has no
        bias); None when the weights, or a bias it has, can change."""
        w = self.constant(conv.inputs[1]) if len(conv.inputs) > 1 else None
        has_b = len(conv.inputs) > 2 and bool(conv.inputs[2])
        b = self.constant(conv.inputs[2]) if has_b else None
        if w is None or w.dtype.kind != "f" or has_b and b is None:
            return None
        return w, b

    def scalar(self, name: str) -> float | None:
        """A one-element numeric constant as a float, else None."""
        value = self.constant(name)
        if value is None or value.size != 1 or value.dtype.kind not in "fiu":
            return None
        return float(value.reshape(-1)[0])

    def sole_consumer(self, name: str) -> Node | None:
        """The one node reading ``name`` when nothing else (graph outputs, subgraphs) does."""
        if name in self.pinned:
            return None
        readers = self.consumers.get(name, [])
        return readers[0] if len(readers) == 1 and not self.removed(readers[0]) else None

    def readers(self, name: str) -> list[Node]:
        return [] if name in self.pinned else [n for n in self.consumers.get(name, []) if not self.removed(n)]

    def made_by(self, name: str, *op_types: str, domain: str = "") -> Node | None:
        """The live producer of ``name`` when its op type is one of ``op_types``."""
        node = self.producer.get(name)
        if node is None or self.removed(node) or node.op_type not in op_types or node.domain != domain:
            return None
        return node

    def removed(self, node: Node) -> bool:
        return id(node) in self._removed

    def opset(self, domain: str = "") -> int:
        return self.model.opset.get(domain, 0)

    # -- edits ------------------------------------------------------------------------

    def fresh_name(self, base: str) -> str:
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def add_initializer(self, base: str, value: np.ndarray) -> str:
        name = self.fresh_name(base)
        value = np.asarray(value)
        value.flags.writeable = False
        self.graph.initializers[name] = value
        return name

    def replace(self, old: list[Node], new: list[Node]) -> None:
        """Remove ``old`` and put ``new`` where the last of ``old`` stood (so inputs stay defined)."""
        anchor = max(old, key=lambda n: self._position[id(n)])
        for node in old:
            self._removed.add(id(node))
        home = self._home.get(id(anchor), id(anchor))  # the original node whose place it took
        placed = self._inserted[home]
        at = next((i + 1 for i, n in enumerate(placed) if n is anchor), len(placed))
        placed[at:at] = new
        for node in new:
            self._position[id(node)] = self._position[id(anchor)]
            self._home[id(node)] = home
            for name in node.outputs:
                if name:
                    self.producer[name] = node
                    self._names.add(name)
            for name in node.inputs:
                if name:
                    self.consumers[name].append(node)

    def use_onyx_domain(self) -> None:
        self.model.opset.setdefault(ONYX_DOMAIN, ONYX_DOMAIN_VERSION)

    def commit(self) -> None:
        """Write the edits back into the graph's node list."""
        if not self._removed and not self._inserted:
            return
        nodes: list[Node] = []
        for node in self.graph.nodes:
            if id(node) not in self._removed:
                nodes.append(node)
            nodes.extend(n for n in self._inserted.get(id(node), ()) if id(n) not in self._removed)
        self.graph.nodes = nodes


def other_input(node: Node, value: str) -> str | None:
    """The input of a two-input node that is not ``value`` (None if both are)."""
    if len(node.inputs) != 2 or node.inputs.count(value) != 1:
        return None
    return node.inputs[1] if node.inputs[0] == value else node.inputs[0]


def rename_inputs(graph: Graph, alias: dict[str, str]) -> None:
    """Make every node read ``alias[name]`` instead of ``name`` (chains resolved)."""
    if not alias:
        return
    for node in graph.nodes:
        node.inputs = [resolve(alias, n) for n in node.inputs]


def resolve(alias: dict[str, str], name: str) -> str:
    while name in alias:
        name = alias[name]
    return name


def prune(graph: Graph) -> None:
    """Drop initializers and value_info entries nothing refers to any more."""
    used = {v.name for v in graph.outputs} | {v.name for v in graph.inputs}
    for node in graph.nodes:
        used.update(node.inputs)
        used.update(node.outputs)
        used |= subgraph_free_names(node)
    graph.initializers = {k: v for k, v in graph.initializers.items() if k in used}
    graph.value_info = {k: v for k, v in graph.value_info.items() if k in used}


def static_shape(tp: TypeProto | None) -> tuple[int, ...] | None:
    """The dims of a tensor type when every one is a known number."""
    if tp is None or tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.HasField("shape"):
        return None
    dims = tp.tensor_type.shape.dim
    if any(d.WhichOneof("value") != "dim_value" for d in dims):
        return None
    return tuple(d.dim_value for d in dims)


def known_dims(tp: TypeProto | None) -> list[int | None] | None:
    """The dims of a tensor type of known rank, None for each dim not known as a number."""
    if tp is None or tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.WhichOneof("value") == "dim_value" else None for d in tp.tensor_type.shape.dim]


def attrs_key(attrs: dict[str, Any]) -> tuple:
    """A hashable form of node attributes (for CSE)."""
    def key(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return ("array", value.dtype.str, value.shape, value.tobytes() if value.dtype != object else tuple(value.flat))
        if isinstance(value, list):
            return tuple(key(v) for v in value)
        if isinstance(value, TypeProto):
            return value.SerializeToString()
        return value
    return tuple(sorted((k, key(v)) for k, v in attrs.items()))
