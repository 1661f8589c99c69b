"""Graph clean-up: identity elimination, common-subexpression elimination, dead code."""

from __future__ import annotations

from onnx import TypeProto

from onyx.model.graph import Graph, Model, Node
from onyx.model.inference import infer_types
from onyx.model.types import elem_type_of
from onyx.optimizer.constant_folding import foldable
from onyx.optimizer.editor import (
    NONDETERMINISTIC,
    attrs_key,
    has_subgraph,
    prune,
    rename_inputs,
    resolve,
)
from onyx.model.topology import subgraph_free_names

# constants up to this many elements are merged when equal, so CSE sees equal inputs
_SMALL_CONSTANT = 64


def _is_noop(node: Node, model: Model, constants: dict, types: dict) -> bool:
    """True when the node's first output always equals its first input."""
    if node.domain or len(node.inputs) < 1 or not node.inputs[0]:
        return False
    op = node.op_type
    if op == "Identity" or (op == "Concat" and len(node.inputs) == 1):
        return True
    if op == "Dropout":
        if model.opset.get("", 0) < 7 and not node.attrs.get("is_test", 0):
            return False
        if len(node.inputs) > 2 and node.inputs[2]:
            mode = constants.get(node.inputs[2])
            if mode is None or bool(mode.reshape(-1)[0]):
                return False
        return True
    if op == "Cast":
        source = constants.get(node.inputs[0])
        if source is not None:
            return source.dtype != object and elem_type_of(source.dtype) == node.attrs.get("to")
        return types.get(node.inputs[0]) == node.attrs.get("to")
    return False


def _elem_type(tp: TypeProto | None) -> int | None:
    if tp is None or tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.elem_type:
        return None
    return tp.tensor_type.elem_type


def _cast_source_types(model: Model, constants: dict) -> dict[str, int]:
    """Element types of the values Casts read, where known: declared types and Cast outputs,
    shape inference only when some Cast reads a value of unknown type. Casts of values
    computed from constants alone are left to constant folding."""
    graph = model.graph
    derived = set(constants)
    types: dict[str, int] = {}
    for info in list(graph.inputs) + list(graph.value_info.values()):
        elem = _elem_type(info.type)
        if elem is not None:
            types[info.name] = elem
    unknown = False
    for node in graph.nodes:
        if foldable(node) and all(not n or n in derived for n in node.inputs):
            derived.update(node.outputs)
        elif node.op_type == "Cast" and not node.domain:
            unknown = unknown or (node.inputs[0] not in types and node.inputs[0] not in derived)
            types[node.outputs[0]] = node.attrs.get("to")
    if unknown:
        types.update((name, elem) for name, tp in infer_types(model).items() if (elem := _elem_type(tp)) is not None)
    return types


def _consumers_of(graph: Graph) -> dict[str, list[Node]]:
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in node.inputs:
            if name:
                readers.setdefault(name, []).append(node)
    return readers


def eliminate_identities(model: Model) -> None:
    """Remove Identity, single-input Concat, inference Dropout and same-type Cast nodes.

    Readers are rewired to the input. When the output is a graph output, the input's
    producer is renamed to produce it instead (if nothing else pins the input's name).
    """
    graph = model.graph
    overridable = {v.name for v in graph.inputs}
    constants = {k: v for k, v in graph.initializers.items() if k not in overridable}
    types = _cast_source_types(model, constants) if any(n.op_type == "Cast" for n in graph.nodes) else {}
    pinned = {v.name for v in graph.outputs}
    for node in graph.nodes:
        pinned |= subgraph_free_names(node)
    producer = {o: n for n in graph.nodes for o in n.outputs if o}
    extra_outputs_read = {name for n in graph.nodes for name in n.inputs} | pinned

    alias: dict[str, str] = {}
    kept: list[Node] = []
    for node in graph.nodes:
        node.inputs = [resolve(alias, n) for n in node.inputs]
        noop = _is_noop(node, model, constants, types) and not extra_outputs_read.intersection(o for o in node.outputs[1:] if o)
        if noop and node.outputs[0] not in pinned:
            alias[node.outputs[0]] = node.inputs[0]
            continue
        kept.append(node)
    graph.nodes = kept

    # identities that produce graph outputs: let the input's producer write the output name
    rename: dict[str, str] = {}
    readers = _consumers_of(graph)
    final: list[Node] = []
    for node in graph.nodes:
        node.inputs = [rename.get(n, n) for n in node.inputs]
        if not _is_noop(node, model, constants, types) or any(node.outputs[1:]):
            final.append(node)
            continue
        source, target = node.inputs[0], node.outputs[0]
        maker = producer.get(source)
        if maker is None or source in pinned or source in graph.initializers or source in overridable:
            final.append(node)
            continue
        maker.outputs = [target if o == source else o for o in maker.outputs]
        for reader in readers.get(source, ()):
            reader.inputs = [target if n == source else n for n in reader.inputs]
        rename[source] = target
        pinned.add(target)
    graph.nodes = final
    prune(graph)


def _merge_small_constants(graph: Graph) -> dict[str, str]:
    """Alias equal small initializers to one name (inputs that feeds may override excluded)."""
    overridable = {v.name for v in graph.inputs}
    first: dict[tuple, str] = {}
    alias: dict[str, str] = {}
    for name, value in graph.initializers.items():
        if name in overridable or value.size > _SMALL_CONSTANT or value.dtype == object:
            continue
        key = (value.dtype.str, value.shape, value.tobytes())
        if key in first:
            alias[name] = first[key]
        else:
            first[key] = name
    return alias


def eliminate_common_subexpressions(model: Model) -> None:
    """Nodes computing the same op on the same inputs with the same attributes are computed once."""
    graph = model.graph
    pinned = {v.name for v in graph.outputs}
    for node in graph.nodes:
        pinned |= subgraph_free_names(node)
    alias = _merge_small_constants(graph)
    # nodes by (domain, op, inputs, output count); attributes are compared only between nodes
    # that share all that (hashing every attribute, e.g. a tree ensemble's 100k-entry lists, is costly)
    seen: dict[tuple, list[Node]] = {}
    keys: dict[int, tuple] = {}

    def attributes(node: Node) -> tuple:
        if id(node) not in keys:
            keys[id(node)] = attrs_key(node.attrs)
        return keys[id(node)]

    kept: list[Node] = []
    for node in graph.nodes:
        node.inputs = [resolve(alias, n) for n in node.inputs]
        if node.op_type in NONDETERMINISTIC or has_subgraph(node):
            kept.append(node)
            continue
        candidates = seen.setdefault((node.domain, node.op_type, tuple(node.inputs), len(node.outputs)), [])
        original = next((other for other in candidates if attributes(other) == attributes(node)), None)
        if original is None:
            candidates.append(node)
            kept.append(node)
            continue
        pairs = list(zip(node.outputs, original.outputs))
        if any(mine and (mine in pinned or not theirs) for mine, theirs in pairs):
            kept.append(node)
            continue
        alias.update({mine: theirs for mine, theirs in pairs if mine})
    graph.nodes = kept
    rename_inputs(graph, alias)
    prune(graph)


def eliminate_dead_code(model: Model) -> None:
    """Remove nodes none of whose outputs is read (by a node, a subgraph or the graph outputs)."""
    graph = model.graph
    needed = {v.name for v in graph.outputs}
    live: list[Node] = []
    for node in reversed(graph.nodes):
        if needed.intersection(node.outputs):
            live.append(node)
            needed.update(node.inputs)
            needed |= subgraph_free_names(node)
    live.reverse()
    if len(live) != len(graph.nodes):
        graph.nodes = live
    prune(graph)
