"""Which nodes of a graph convert to PyTorch, and how: one ``Call`` (converter and keyword
arguments) per node that converts exactly, one reason per node that does not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from onyx.model.graph import Graph, Model, Node
from onyx.model.inference import infer_types
from onyx.model.types import np_dtype
from onyx.providers.torch.converters import registry
from onyx.providers.torch.converters.registry import Converter, NodeInfo


@dataclass(frozen=True)
class Call:
    """How one node runs in the fx graph: ``converter.fn(*inputs, **kwargs)``."""

    node: Node
    converter: Converter
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class ValueFacts:
    """Element types and ranks of a graph's values, as far as they are known."""

    dtypes: dict[str, np.dtype]
    ranks: dict[str, int]


def value_facts(graph: Graph, opset: Mapping[str, int]) -> ValueFacts:
    """What the graph declares of its values, completed by onnx shape inference."""
    types: dict[str, Any] = dict(infer_types(Model(graph, dict(opset))))
    for info in [*graph.value_info.values(), *graph.outputs, *graph.inputs]:
        if info.type is not None:
            types[info.name] = info.type
    dtypes: dict[str, np.dtype] = {}
    ranks: dict[str, int] = {}
    for name, tp in types.items():
        if tp.WhichOneof("value") != "tensor_type" or tp.tensor_type.elem_type == 0:
            continue
        try:
            dtypes[name] = np_dtype(tp.tensor_type.elem_type)
        except Exception:  # noqa: BLE001 - an element type onyx cannot name stays unknown
            continue
        if tp.tensor_type.HasField("shape"):
            ranks[name] = len(tp.tensor_type.shape.dim)
    for name, value in graph.initializers.items():
        if isinstance(value, np.ndarray):
            dtypes[name] = value.dtype
            ranks[name] = value.ndim
    _propagate_dtypes(graph, dtypes)
    return ValueFacts(dtypes, ranks)


_BOOL, _INT64 = np.dtype(np.bool_), np.dtype(np.int64)
_BOOL_RESULTS = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not",
                 "IsNaN", "IsInf"}
_INT64_RESULTS = {"Shape", "Size", "ArgMax", "ArgMin", "NonZero"}
# result types set by an attribute or a subgraph: left unknown (such a node is not claimed)
_OWN_RESULT_TYPES = {"Cast", "CastLike", "ConstantOfShape", "Constant", "EyeLike", "If", "Loop", "Scan"}
_TYPE_FROM_INPUT = {"Where": 1, "OneHot": 2}  # else the first input's


def _propagate_dtypes(graph: Graph, dtypes: dict[str, np.dtype]) -> None:
    """The first output's element type where shape inference left it out (after an operator of
    a domain it does not know, such as onyx's fused Gelu), for operators whose result type
    follows from their inputs: bool or int64 by the spec, else an input's type."""
    for node in graph.nodes:
        out = node.outputs[0] if node.outputs else ""
        if not out or out in dtypes or node.op_type in _OWN_RESULT_TYPES:
            continue
        if node.op_type in _BOOL_RESULTS:
            dtypes[out] = _BOOL
        elif node.op_type in _INT64_RESULTS:
            dtypes[out] = _INT64
        else:
            index = _TYPE_FROM_INPUT.get(node.op_type, 0)
            source = node.inputs[index] if index < len(node.inputs) else ""
            if source in dtypes:
                dtypes[out] = dtypes[source]


def constant_values(graph: Graph) -> dict[str, np.ndarray]:
    """Initializers no feed can replace (those that are not also graph inputs)."""
    fed = {v.name for v in graph.inputs}
    return {n: v for n, v in graph.initializers.items() if n not in fed and isinstance(v, np.ndarray)}


def convert_node(node: Node, opset: Mapping[str, int], facts: ValueFacts,
                 constants: Mapping[str, np.ndarray]) -> Call | str:
    """The call converting ``node``, or why it does not convert."""
    version = opset.get(node.domain)
    if version is None:
        return f"the model does not import domain '{node.domain}'"
    if any(isinstance(v, Graph) for v in node.attrs.values()):
        return "it has a subgraph"
    conv = registry.lookup(node.domain, node.op_type, version)
    if conv is None:
        return f"no converter for {node.domain or 'ai.onnx'}::{node.op_type} at opset {version}"
    info = NodeInfo(
        node=node,
        opset=version,
        input_dtypes=tuple(facts.dtypes.get(n) if n else None for n in node.inputs),
        output_dtypes=tuple(facts.dtypes.get(n) if n else None for n in node.outputs),
        constants=tuple(constants.get(n) if n else None for n in node.inputs),
        input_ranks=tuple(facts.ranks.get(n) if n else None for n in node.inputs),
    )
    try:
        kwargs = conv.call_kwargs(info)
    except (ValueError, TypeError, KeyError, IndexError):
        kwargs = None
    if kwargs is None:
        return "its types, attributes or inputs are not ones the converter handles exactly"
    return Call(node, conv, kwargs)


def convert_graph(graph: Graph, opset: Mapping[str, int]) -> tuple[dict[int, Call], dict[int, str]]:
    """id(node) -> Call for the nodes of ``graph`` (not its subgraphs) that convert, and
    id(node) -> reason for those that do not."""
    facts = value_facts(graph, opset)
    constants = constant_values(graph)
    calls: dict[int, Call] = {}
    refused: dict[int, str] = {}
    for node in graph.nodes:
        found = convert_node(node, opset, facts, constants)
        if isinstance(found, Call):
            calls[id(node)] = found
        else:
            refused[id(node)] = found
    return calls, refused
