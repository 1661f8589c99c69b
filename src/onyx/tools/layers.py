"""Every node of a model with its inputs, outputs, their shapes and its attributes
(as polygraphy's ``--show layers`` lists them), for ``onyx inspect --layers``.

Shapes are those onnx's shape inference finds once the symbolic dimensions named in ``dims``
are fixed; a dimension it cannot name stays ``?``. Nodes inside subgraphs are listed under
their parent with a dotted path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import onnx
from onnx import AttributeProto, GraphProto, ModelProto

from onyx.model.types import elem_type_name, shape_of, type_string

_LIST_ITEMS = 8


@dataclass
class Port:
    name: str
    type: str | None
    shape: list[int | str | None] | None


@dataclass
class Layer:
    index: int
    graph: str  # "" for the main graph, else the path of subgraph attributes ("loop_0.body")
    name: str
    op_type: str
    inputs: list[Port]
    outputs: list[Port]
    attributes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_layers(proto: ModelProto, dims: dict[str, int]) -> list[Layer]:
    """The nodes of ``proto`` (subgraphs included) with what shape inference knows of their values."""
    from onyx.tools.inspect import infer_with_dims

    inferred = infer_with_dims(proto, dims)
    layers: list[Layer] = []
    _collect(inferred.graph, "", {}, layers)
    return layers


def _types(graph: GraphProto, outer: dict[str, tuple[str | None, Any]]) -> dict[str, tuple[str | None, Any]]:
    known = dict(outer)
    for tensor in graph.initializer:
        known[tensor.name] = (f"tensor({elem_type_name(tensor.data_type)})", list(tensor.dims))
    for info in [*graph.input, *graph.value_info, *graph.output]:
        if info.HasField("type"):
            known[info.name] = (type_string(info.type), shape_of(info.type))
    return known


def _collect(graph: GraphProto, path: str, outer: dict, layers: list[Layer]) -> None:
    known = _types(graph, outer)

    def port(name: str) -> Port:
        type_str, shape = known.get(name, (None, None))
        return Port(name, type_str, shape)

    for i, node in enumerate(graph.node):
        domain = node.domain if node.domain not in ("", "ai.onnx") else ""
        layers.append(Layer(
            index=len(layers), graph=path, name=node.name, op_type=f"{domain}::{node.op_type}" if domain else node.op_type,
            inputs=[port(n) for n in node.input if n], outputs=[port(n) for n in node.output if n],
            attributes={a.name: _attribute(a) for a in node.attribute}))
        for attr in node.attribute:
            subgraphs = [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)
            for j, subgraph in enumerate(subgraphs):
                label = f"{node.name or node.op_type + str(i)}.{attr.name}" + (f"[{j}]" if len(subgraphs) > 1 else "")
                _collect(subgraph, f"{path}.{label}" if path else label, known, layers)


def _attribute(attr: AttributeProto) -> Any:
    """A short, JSON-friendly form of an attribute's value."""
    if attr.type == AttributeProto.TENSOR:
        return _tensor(attr.t)
    if attr.type == AttributeProto.GRAPH:
        return f"<graph of {len(attr.g.node)} nodes>"
    if attr.type == AttributeProto.GRAPHS:
        return [f"<graph of {len(g.node)} nodes>" for g in attr.graphs]
    if attr.type == AttributeProto.TENSORS:
        return [_tensor(t) for t in attr.tensors]
    if attr.type in (AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTO,
                     AttributeProto.TYPE_PROTOS):
        return f"<{AttributeProto.AttributeType.Name(attr.type).lower()}>"
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        return value if len(value) <= _LIST_ITEMS else [*value[:_LIST_ITEMS], f"... ({len(value)} items)"]
    return value


def _tensor(tensor: onnx.TensorProto) -> str:
    return f"<tensor {elem_type_name(tensor.data_type)} {list(tensor.dims)}>"
