"""Per-channel affine chains: inference BatchNormalization, and Mul/Add/Sub/Div by constants
that vary only along the channel axis (axis 1), composed into one scale and shift.

A chain right after a Conv is folded into the Conv's weights and bias (fold_affine_into_conv,
device-neutral). The CPU provider's fold_channel_affine rewrites the other chains: one ending in a
Relu whose readers are all 1x1 Convs (DenseNet's BatchNormalization + Relu before each
bottleneck) keeps only a per-channel clamp: relu(s*x + t) = s*max(x, -t/s) + t where s > 0
(min where s < 0), with s folded into the readers' weights and t into their biases, one pass
over x instead of three. Any other chain becomes one ai.onyx ChannelAffine(x, scale, shift)
that also applies a following activation (scale and shift are stored in the type of the
chain's first constant, cast to x's type by the kernel where they differ).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from onyx.model.graph import Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, other_input
from onyx.optimizer.linear_fusion import take_activation
from onyx.optimizer.rules import rule

Affine = tuple[np.ndarray, np.ndarray]  # float64 scale and shift, each of length C or 1

# ops whose output has the rank of their first input
_SAME_RANK = frozenset({
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "Dropout", "Identity", "BatchNormalization",
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "LRN", "InstanceNormalization",
    "Softmax", "Elu", "Selu", "PRelu", "Neg", "Abs", "Exp", "Log", "Sqrt",
})
_MAX_DEPTH = 64


def _rank(ed: GraphEditor, name: str, cache: dict[str, int | None], depth: int = 0) -> int | None:
    """The rank of a value, from constants, declared types and shape-preserving producers."""
    if name in cache:
        return cache[name]
    rank = None
    value = ed.constant(name)
    info = next((v for v in ed.graph.inputs if v.name == name), None) or ed.graph.value_info.get(name)
    node = ed.producer.get(name)
    if value is not None:
        rank = value.ndim
    elif info is not None and info.shape is not None:
        rank = len(info.shape)
    elif node is not None and depth < _MAX_DEPTH and node.outputs[0] == name:
        op = node.op_type
        if (op == "Conv" and not node.domain or op in ("FusedConv", "ChannelAffine") and node.domain == ONYX_DOMAIN) \
                and len(node.inputs) > 1:
            w = ed.constant(node.inputs[1]) if op != "ChannelAffine" else None
            rank = w.ndim if w is not None else _rank(ed, node.inputs[0], cache, depth + 1)
        elif op in _SAME_RANK and not node.domain:
            rank = _rank(ed, node.inputs[0], cache, depth + 1)
        elif op in ("Concat", "Add", "Mul", "Sub", "Div", "Sum", "Max", "Min") and not node.domain:
            ranks = [_rank(ed, n, cache, depth + 1) for n in node.inputs]
            rank = None if None in ranks or not ranks else max(ranks)
    cache[name] = rank
    return rank


def _channel_vector(c: np.ndarray, rank: int) -> np.ndarray | None:
    """``c`` as a length-C (or 1) vector when it broadcasts against a rank-``rank`` value only along axis 1."""
    if c.ndim > rank or rank < 2 or c.dtype.kind != "f":
        return None
    shape = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1):
        return None
    return c.reshape(-1).astype(np.float64)


def _batchnorm_affine(ed: GraphEditor, node: Node) -> Affine | None:
    if node.attrs.get("training_mode", 0) or node.attrs.get("spatial", 1) != 1 or any(node.outputs[1:]):
        return None
    stats = [ed.constant(n) for n in node.inputs[1:5]]
    if len(stats) != 4 or any(s is None or s.ndim != 1 or s.dtype.kind != "f" for s in stats):
        return None
    scale, bias, mean, var = (s.astype(np.float64) for s in stats)
    factor = scale / np.sqrt(var + node.attrs.get("epsilon", 1e-5))
    return factor, bias - mean * factor


def _affine_of(ed: GraphEditor, node: Node, x: str, rank: int, pinned_ok: bool = False) -> Affine | None:
    """The (scale, shift) ``node`` applies to its input ``x``, if it is a per-channel affine map."""
    if node.domain or len(node.outputs) < 1 or node.outputs[0] in ed.pinned and not pinned_ok:
        return None
    if node.op_type == "BatchNormalization":
        return _batchnorm_affine(ed, node) if node.inputs[0] == x else None
    if node.op_type not in ("Mul", "Add", "Sub", "Div") or node.attrs:
        return None
    other = other_input(node, x)
    c = ed.constant(other) if other else None
    v = _channel_vector(c, rank) if c is not None else None
    if v is None or (node.op_type in ("Sub", "Div") and node.inputs[0] != x):
        return None
    one, zero = np.ones(1), np.zeros(1)
    return {"Mul": (v, zero), "Add": (one, v), "Sub": (one, -v), "Div": (1.0 / v, zero)}[node.op_type]


def _compose(first: Affine, then: Affine) -> Affine | None:
    (s1, b1), (s2, b2) = first, then
    if s1.size > 1 and s2.size > 1 and s1.size != s2.size or b1.size > 1 and s2.size > 1 and b1.size != s2.size:
        return None
    return s1 * s2, b1 * s2 + b2


def _fold_into_conv(ed: GraphEditor, conv: Node, chain: list[Node], affine: Affine) -> bool:
    """Rescale the Conv's weights and bias by the chain's affine map; False when it cannot."""
    constants = ed.conv_constants(conv)
    scale, shift = affine
    if constants is None or max(scale.size, shift.size) not in (1, constants[0].shape[0]):
        return False
    w, b = constants
    scale = np.broadcast_to(scale, (w.shape[0],))
    new_w = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    new_b = ((b.astype(np.float64) if b is not None else 0.0) * scale + shift).astype(w.dtype)
    new_b = np.broadcast_to(new_b, (w.shape[0],)).copy()
    inputs = [conv.inputs[0], ed.add_initializer(conv.inputs[1] + "_affine", new_w),
              ed.add_initializer(conv.outputs[0] + "_affine_bias", new_b)]
    ed.replace([conv] + chain, [Node("Conv", inputs, [chain[-1].outputs[0]], dict(conv.attrs), name=conv.name)])
    return True


def _pointwise_conv_weights(ed: GraphEditor, node: Node, x: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Constant (W, B) of a plain 1x1, ungrouped, unpadded Conv reading ``x`` as its data input."""
    if node.op_type != "Conv" or node.domain or node.inputs[0] != x or x in node.inputs[1:]:
        return None
    attrs = node.attrs
    if attrs.get("group", 1) != 1 or any(attrs.get("pads", ())) or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    constants = ed.conv_constants(node)
    if constants is None or constants[0].ndim < 3 or any(k != 1 for k in constants[0].shape[2:]):
        return None
    return constants


def _clamp_into_readers(ed: GraphEditor, chain: list[Node], x: str, out: str, affine: Affine, rank: int) -> bool:
    """relu(s*x + t) read only by 1x1 Convs -> a per-channel clamp of x, s and t folded into
    the Convs' weights and biases (see the module docstring); False when it does not apply."""
    readers = [n for n in ed.consumers.get(out, []) if not ed.removed(n)]
    if out in ed.pinned or not readers or ed.model.opset.get("", 1) < 8:  # Max/Min broadcast from opset 8
        return False
    weights = [_pointwise_conv_weights(ed, n, out) for n in readers]
    if any(wb is None for wb in weights):
        return False
    channels = weights[0][0].shape[1]
    scale, shift = affine
    if any(w.shape[1] != channels or w.dtype != weights[0][0].dtype for w, _ in weights) \
            or scale.size not in (1, channels) or shift.size not in (1, channels):
        return False
    scale, shift = np.broadcast_to(scale, (channels,)), np.broadcast_to(shift, (channels,))
    dtype, shape = weights[0][0].dtype, (-1,) + (1,) * (rank - 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        edge = (-shift / scale).astype(dtype)
    if not (np.all(scale != 0) and np.all(np.isfinite(edge))):
        return False
    for reader, (w, b) in zip(readers, weights):
        w64 = w.astype(np.float64).reshape(w.shape[0], channels)
        new_b = (b.astype(np.float64) if b is not None else 0.0) + w64 @ shift
        inputs = [out, ed.add_initializer(reader.inputs[1] + "_clamped", (w64 * scale).reshape(w.shape).astype(dtype)),
                  ed.add_initializer(reader.outputs[0] + "_clamped_bias", new_b.astype(dtype))]
        ed.replace([reader], [Node("Conv", inputs, list(reader.outputs), dict(reader.attrs), name=reader.name)])
    lower = ed.add_initializer(out + "_lower", np.where(scale > 0, edge, -np.inf).astype(dtype).reshape(shape))
    clamp = [Node("Max", [x, lower], [out], name=chain[0].name)]
    if np.any(scale < 0):
        upper = ed.add_initializer(out + "_upper", np.where(scale < 0, edge, np.inf).astype(dtype).reshape(shape))
        clamp[0].outputs = [ed.fresh_name(out + "_lower_clamped")]
        clamp.append(Node("Min", [clamp[0].outputs[0], upper], [out], name=chain[0].name + "_upper"))
    ed.replace(chain, clamp)
    return True


@dataclass
class _AffineChain:
    """A maximal per-channel affine chain: it maps ``x`` (of rank ``rank``) to ``out``."""

    x: str
    rank: int
    nodes: list[Node]
    out: str
    affine: Affine
    attrs: dict = field(default_factory=dict)  # an activation it absorbs (ChannelAffine only)


def _affine_chain(ed: GraphEditor, head: Node, pinned_end: bool) -> _AffineChain | None:
    """The chain starting at ``head``; ``pinned_end``: it may end in a pinned value (a graph output)."""
    ranks = ed.memo.setdefault("ranks", {})
    x = head.inputs[0]
    rank = _rank(ed, x, ranks)
    affine = _affine_of(ed, head, x, rank, pinned_end) if rank else None
    if affine is None and head.op_type in ("Mul", "Add") and len(head.inputs) == 2:
        x = head.inputs[1]
        rank = _rank(ed, x, ranks)
        affine = _affine_of(ed, head, x, rank, pinned_end) if rank else None
    if affine is None:
        return None
    chain, out = [head], head.outputs[0]
    while (reader := ed.sole_consumer(out)) is not None \
            and (step := _affine_of(ed, reader, out, rank, pinned_end)) is not None:
        composed = _compose(affine, step)
        if composed is None:
            break
        affine, out = composed, reader.outputs[0]
        chain.append(reader)
    return _AffineChain(x, rank, chain, out, affine)


def _chain_after_conv(ed: GraphEditor, head: Node) -> tuple[Node, _AffineChain] | None:
    chain = _affine_chain(ed, head, pinned_end=True)
    conv = ed.made_by(chain.x, "Conv") if chain is not None else None
    if conv is None or ed.sole_consumer(chain.x) is not head:
        return None
    return conv, chain


def _into_conv(ed: GraphEditor, head: Node, match: tuple[Node, _AffineChain]) -> None:
    conv, chain = match
    _fold_into_conv(ed, conv, chain.nodes, chain.affine)


def _chain_alone(ed: GraphEditor, head: Node) -> _AffineChain | None:
    """A chain worth rewriting on its own: a BatchNormalization, or more than one node."""
    chain = _affine_chain(ed, head, pinned_end=False)
    if chain is None:
        return None
    chain.out = take_activation(ed, chain.out, chain.nodes, chain.attrs)
    return chain if len(chain.nodes) > 1 or head.op_type == "BatchNormalization" else None


def _clamp_or_channel_affine(ed: GraphEditor, head: Node, chain: _AffineChain) -> None:
    if chain.attrs.get("activation") == "Relu" \
            and _clamp_into_readers(ed, chain.nodes, chain.x, chain.out, chain.affine, chain.rank):
        return
    shape = (-1,) + (1,) * (chain.rank - 2)
    dtype = next(c.dtype for c in map(ed.constant, head.inputs) if c is not None)
    scale = ed.add_initializer(chain.out + "_scale", chain.affine[0].astype(dtype).reshape(shape))
    shift = ed.add_initializer(chain.out + "_shift", chain.affine[1].astype(dtype).reshape(shape))
    ed.replace(chain.nodes, [Node("ChannelAffine", [chain.x, scale, shift], [chain.out], chain.attrs,
                                  domain=ONYX_DOMAIN, name=head.name)])
    ed.use_onyx_domain()


_HEADS = ("BatchNormalization", "Mul", "Add", "Sub", "Div")
# Per-channel affine chains right after a Conv (BatchNormalization among them) -> the Conv's
# weights and bias: the one place Conv+BatchNormalization is folded. Device-neutral.
fold_affine_into_conv = rule(*_HEADS, guard=_chain_after_conv, action=_into_conv)
# Other chains -> a clamp folded into the 1x1 Convs reading them, or one ChannelAffine (+ activation).
fold_channel_affine = rule(*_HEADS, guard=_chain_alone, action=_clamp_or_channel_affine)
