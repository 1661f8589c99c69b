"""Fusions around the linear operators: a zero Pad into the Conv after it, and
Conv/Gemm/MatMul followed by a bias Add and an activation into one ai.onyx op."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from onyx.model.graph import Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, other_input
from onyx.optimizer.rules import rule


def _constant_pads(ed: GraphEditor, pad: Node) -> list[int] | None:
    """The pads of a zero-valued constant-mode Pad over all axes, when they are constants."""
    mode = pad.attrs.get("mode", "constant")
    if mode not in ("constant", b"constant") or len(pad.inputs) > 3 and pad.inputs[3]:
        return None
    if ed.opset() < 11:
        pads, value = pad.attrs.get("pads"), pad.attrs.get("value", 0.0)
    else:
        constant = ed.constant(pad.inputs[1]) if len(pad.inputs) > 1 else None
        pads = None if constant is None else [int(p) for p in constant.reshape(-1)]
        value = ed.scalar(pad.inputs[2]) if len(pad.inputs) > 2 and pad.inputs[2] else 0.0
    return list(pads) if pads is not None and value == 0.0 else None


def _pad_conv_match(ed: GraphEditor, pad: Node) -> tuple[Node, list[int]] | None:
    """The Conv reading a zero Pad of the spatial axes alone, and the Conv's pads with it."""
    conv = ed.sole_consumer(pad.outputs[0])
    pads = _constant_pads(ed, pad)
    if conv is None or conv.op_type != "Conv" or conv.domain or conv.inputs[0] != pad.outputs[0] or pads is None:
        return None
    rank = len(pads) // 2
    begin, end = pads[:rank], pads[rank:]
    if conv.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET") or min(pads) < 0 or begin[:2] != [0, 0] \
            or end[:2] != [0, 0]:
        return None
    old = list(conv.attrs.get("pads") or [0] * (2 * (rank - 2)))
    return conv, [o + p for o, p in zip(old, begin[2:] + end[2:])]


def _pad_into_conv(ed: GraphEditor, pad: Node, match: tuple[Node, list[int]]) -> None:
    conv, pads = match
    attrs = dict(conv.attrs)
    attrs["pads"] = pads
    ed.replace([pad, conv], [Node("Conv", [pad.inputs[0]] + conv.inputs[1:], list(conv.outputs), attrs, name=conv.name)])


# A zero Pad of the spatial axes in front of a Conv becomes the Conv's own padding.
fuse_pad_conv = rule("Pad", guard=_pad_conv_match, action=_pad_into_conv)


def activation_of(ed: GraphEditor, node: Node) -> tuple[str, list[float]] | None:
    """(activation name, params) when ``node`` is an activation FusedConv & co. can apply."""
    op, a = node.op_type, node.attrs
    if node.domain == ONYX_DOMAIN and op == "Gelu" or node.domain == "" and op == "Gelu":
        return ("GeluTanh" if a.get("approximate", "none") == "tanh" else "Gelu"), []
    if node.domain:
        return None
    if op in ("Relu", "Sigmoid", "Tanh"):
        return op, []
    if op == "LeakyRelu":
        return op, [float(a.get("alpha", 0.01))]
    if op == "HardSigmoid":
        return op, [float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))]
    if op == "Clip":
        if ed.opset() < 11:
            return op, [float(a.get("min", -np.inf)), float(a.get("max", np.inf))]
        bounds = []
        for i, default in ((1, -np.inf), (2, np.inf)):
            name = node.inputs[i] if len(node.inputs) > i else ""
            value = ed.scalar(name) if name else default
            if value is None:
                return None
            bounds.append(value)
        return op, bounds
    return None


def take_activation(ed: GraphEditor, value: str, chain: list[Node], attrs: dict) -> str:
    """Absorb an activation reading ``value`` alone; returns the chain's output name."""
    reader = ed.sole_consumer(value)
    act = activation_of(ed, reader) if reader is not None else None
    if act is None:
        return value
    attrs["activation"], attrs["activation_params"] = act[0], act[1]
    chain.append(reader)
    return reader.outputs[0]


def _per_channel(bias: np.ndarray, channels: int, spatial: int) -> np.ndarray | None:
    """A constant added to a conv output as a 1-D per-channel bias, if that is what it is."""
    shape = bias.shape
    while len(shape) > spatial + 1 and shape[0] == 1:
        shape = shape[1:]
    if bias.size == channels and shape == (channels,) + (1,) * spatial and bias.ndim <= spatial + 2:
        return bias.reshape(-1)
    return None


def _is_binary_add(node: Node) -> bool:
    """An Add, or a Sum of two inputs (as residual connections are often written)."""
    if node.domain or "broadcast" in node.attrs:
        return False
    return node.op_type == "Add" or node.op_type == "Sum" and len(node.inputs) == 2


@dataclass
class _Chain:
    """A linear op and what follows it that a fused op absorbs."""

    nodes: list[Node]
    inputs: list[str]
    attrs: dict
    out: str
    bias: tuple[str, np.ndarray] | None = None  # a new bias initializer to add: (base name, value)


def _conv_chain(ed: GraphEditor, conv: Node) -> _Chain | None:
    """Conv [+ per-channel Add] [+ residual Add or two-input Sum] + activation, when more than the Conv."""
    w = ed.constant(conv.inputs[1])
    inputs = list(conv.inputs) + [""] * (3 - len(conv.inputs))
    chain = _Chain([conv], inputs, dict(conv.attrs), conv.outputs[0])
    add = ed.sole_consumer(chain.out)
    if add is not None and add.op_type == "Add" and not add.domain and w is not None:
        other = other_input(add, chain.out)
        bias = ed.constant(other) if other else None
        bias = _per_channel(bias, w.shape[0], w.ndim - 2) if bias is not None and bias.dtype == w.dtype else None
        current = ed.constant(inputs[2]) if inputs[2] else np.zeros((), w.dtype)
        if bias is not None and current is not None:
            chain.bias = (other + "_conv_bias", current + bias)
            chain.nodes.append(add)
            chain.out = add.outputs[0]
            add = ed.sole_consumer(chain.out)
    if add is not None and _is_binary_add(add):
        other = other_input(add, chain.out)
        if other and ed.constant(other) is None:
            inputs.append(other)
            chain.nodes.append(add)
            chain.out = add.outputs[0]
    chain.out = take_activation(ed, chain.out, chain.nodes, chain.attrs)
    return chain if len(chain.nodes) > 1 else None


def _fuse_conv(ed: GraphEditor, conv: Node, chain: _Chain) -> None:
    inputs = chain.inputs
    if chain.bias is not None:
        inputs[2] = ed.add_initializer(*chain.bias)
    while not inputs[-1]:
        inputs.pop()
    ed.replace(chain.nodes, [Node("FusedConv", inputs, [chain.out], chain.attrs, domain=ONYX_DOMAIN, name=conv.name)])
    ed.use_onyx_domain()


def _gemm_chain(ed: GraphEditor, gemm: Node) -> _Chain | None:
    """Gemm + activation."""
    chain = _Chain([gemm], list(gemm.inputs), dict(gemm.attrs), gemm.outputs[0])
    chain.out = take_activation(ed, chain.out, chain.nodes, chain.attrs)
    return chain if len(chain.nodes) > 1 else None


def _matmul_chain(ed: GraphEditor, mm: Node) -> _Chain | None:
    """MatMul [+ Add of a 1-D constant] [+ activation]."""
    chain = _Chain([mm], list(mm.inputs), {}, mm.outputs[0])
    add = ed.sole_consumer(chain.out)
    other = other_input(add, chain.out) if add is not None and add.op_type == "Add" and not add.domain else None
    bias = ed.constant(other) if other else None
    b = ed.constant(mm.inputs[1])
    if bias is not None and bias.ndim == 1 and (b is None or (b.ndim >= 1 and b.shape[-1] == bias.size and b.dtype == bias.dtype)):
        chain.inputs.append(other)
        chain.nodes.append(add)
        chain.out = add.outputs[0]
    chain.out = take_activation(ed, chain.out, chain.nodes, chain.attrs)
    return chain if len(chain.nodes) > 1 else None


def _fused(op_type: str) -> Callable[[GraphEditor, Node, _Chain], None]:
    """An action replacing a chain by one ai.onyx ``op_type`` node."""

    def fuse(ed: GraphEditor, head: Node, chain: _Chain) -> None:
        ed.replace(chain.nodes, [Node(op_type, chain.inputs, [chain.out], chain.attrs, domain=ONYX_DOMAIN, name=head.name)])
        ed.use_onyx_domain()

    return fuse


def _reshaped_activation(ed: GraphEditor, reshape: Node) -> Node | None:
    """The activation reading alone a Reshape that reads alone a Gemm's or MatMul's output."""
    source = ed.producer.get(reshape.inputs[0])
    act = ed.sole_consumer(reshape.outputs[0])
    if source is None or source.domain or source.op_type not in ("Gemm", "MatMul") or act is None \
            or ed.sole_consumer(reshape.inputs[0]) is not reshape or activation_of(ed, act) is None \
            or act.inputs[0] != reshape.outputs[0]:
        return None
    return act


def _activation_first(ed: GraphEditor, reshape: Node, act: Node) -> None:
    moved = ed.fresh_name(act.outputs[0] + "_unshaped")
    ed.replace([reshape, act], [Node(act.op_type, [reshape.inputs[0]] + act.inputs[1:], [moved], dict(act.attrs),
                                     domain=act.domain, name=act.name),
                                Node("Reshape", [moved] + reshape.inputs[1:], list(act.outputs), dict(reshape.attrs),
                                     name=reshape.name)])


# Gemm/MatMul -> Reshape -> activation becomes Gemm/MatMul -> activation -> Reshape (an elementwise
# activation commutes with a Reshape), so that the fusions below absorb the activation: PyTorch's
# dynamo exporter writes linear layers as Reshape -> Gemm -> Reshape.
move_activation_before_reshape = rule("Reshape", guard=_reshaped_activation, action=_activation_first)
# Conv [+ per-channel Add] [+ residual Add or two-input Sum] + activation -> FusedConv.
fuse_conv_activation = rule("Conv", guard=_conv_chain, action=_fuse_conv)
# Gemm + activation -> FusedGemm.
fuse_gemm_activation = rule("Gemm", guard=_gemm_chain, action=_fused("FusedGemm"), min_opset=7)
# MatMul [+ Add of a 1-D constant] [+ activation] -> FusedMatMulBias.
fuse_matmul_bias = rule("MatMul", guard=_matmul_chain, action=_fused("FusedMatMulBias"))
