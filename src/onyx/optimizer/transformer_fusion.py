"""Fusions of the subgraphs exporters write for transformer blocks: LayerNormalization,
GELU (erf and tanh forms), Softmax (Exp/ReduceSum/Div) and scaled dot-product attention."""

from __future__ import annotations

import math

from onyx.model.graph import Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, other_input
from onyx.optimizer.rules import rule


def _close(value: float | None, target: float, rtol: float = 1e-4) -> bool:
    return value is not None and abs(value - target) <= rtol * abs(target)


def _scaling(ed: GraphEditor, node: Node | None) -> tuple[str, float] | None:
    """(x, c) when ``node`` computes x * c (Mul by, or Div by, a scalar constant)."""
    if node is None or node.domain or len(node.inputs) != 2:
        return None
    if node.op_type == "Mul":
        for x, c in (node.inputs, node.inputs[::-1]):
            value = ed.scalar(c)
            if value is not None and ed.constant(x) is None:
                return x, value
    if node.op_type == "Div":
        value = ed.scalar(node.inputs[1])
        if value:
            return node.inputs[0], 1.0 / value
    return None


def _reduce_axes(ed: GraphEditor, node: Node) -> list[int] | None:
    """The constant axes of a keepdims Reduce* node (attribute or, from opset 13/18, input)."""
    if node.attrs.get("keepdims", 1) != 1:
        return None
    if "axes" in node.attrs:
        return list(node.attrs["axes"])
    axes = ed.constant(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    return [int(a) for a in axes.reshape(-1)] if axes is not None else None


def _trailing_axis(axes: list[int] | None) -> int | None:
    """The first axis when ``axes`` are the last k axes given negatively ([-1], [-2, -1]...)."""
    if not axes or sorted(axes) != list(range(-len(axes), 0)):
        return None
    return -len(axes)


def _target_domain(ed: GraphEditor, op: str, since: int) -> str:
    """'' when the model's opset has the standard ``op``, else onyx's domain (imported)."""
    if ed.opset() >= since:
        return ""
    ed.use_onyx_domain()
    return ONYX_DOMAIN


def _layer_norm(ed: GraphEditor, sub: Node, found) -> None:
    nodes, inputs, axis, eps = found
    domain = _target_domain(ed, "LayerNormalization", 17)
    fused = Node("LayerNormalization", inputs, [nodes[-1].outputs[0]], {"axis": axis, "epsilon": eps},
                 domain=domain, name=nodes[-1].name)
    ed.replace(nodes, [fused])


def _match_layer_norm(ed: GraphEditor, sub: Node):
    x, mean = sub.inputs
    rm1 = ed.made_by(mean, "ReduceMean")
    if rm1 is None or rm1.inputs[0] != x or ed.sole_consumer(mean) is not sub:
        return None
    axes = _reduce_axes(ed, rm1)
    axis = _trailing_axis(axes)
    d = sub.outputs[0]
    readers = ed.readers(d)
    if axis is None or len(readers) != 2 or {n.op_type for n in readers} != {"Pow", "Div"}:
        return None
    pow_, div = sorted(readers, key=lambda n: n.op_type != "Pow")
    if pow_.inputs[0] != d or ed.scalar(pow_.inputs[1]) != 2.0 or div.inputs[0] != d:
        return None
    rm2 = ed.sole_consumer(pow_.outputs[0])
    if rm2 is None or rm2.op_type != "ReduceMean" or _reduce_axes(ed, rm2) != axes:
        return None
    add = ed.sole_consumer(rm2.outputs[0])
    eps = ed.scalar(other_input(add, rm2.outputs[0]) or "") if add is not None and add.op_type == "Add" else None
    sqrt = ed.sole_consumer(add.outputs[0]) if eps is not None else None
    if sqrt is None or sqrt.op_type != "Sqrt" or ed.sole_consumer(sqrt.outputs[0]) is not div or div.inputs[1] != sqrt.outputs[0]:
        return None
    mul = ed.sole_consumer(div.outputs[0])
    gamma = other_input(mul, div.outputs[0]) if mul is not None and mul.op_type == "Mul" else None
    scale = ed.constant(gamma) if gamma else None
    if scale is None or scale.ndim > len(axes):
        return None
    nodes, inputs = [rm1, sub, pow_, rm2, add, sqrt, div, mul], [x, gamma]
    shift = ed.sole_consumer(mul.outputs[0])
    beta = other_input(shift, mul.outputs[0]) if shift is not None and shift.op_type == "Add" else None
    bias = ed.constant(beta) if beta else None
    if bias is not None and bias.ndim <= len(axes):
        nodes.append(shift)
        inputs.append(beta)
    return nodes, inputs, axis, eps


def _half_x_times(ed: GraphEditor, x: str, one_plus: str) -> list[Node] | None:
    """The nodes computing 0.5 * x * one_plus, in any of the orders exporters write."""
    mul = ed.sole_consumer(one_plus)
    other = other_input(mul, one_plus) if mul is not None and mul.op_type == "Mul" else None
    if other is None:
        return None
    if other == x:
        half = ed.sole_consumer(mul.outputs[0])
        scaled = _scaling(ed, half)
        return [mul, half] if scaled is not None and _close(scaled[1], 0.5) else None
    half = ed.made_by(other, "Mul")
    scaled = _scaling(ed, half)
    if scaled is not None and scaled[0] == x and _close(scaled[1], 0.5) and ed.sole_consumer(other) is mul:
        return [half, mul]
    return None


def _plus_one(ed: GraphEditor, value: str) -> Node | None:
    add = ed.sole_consumer(value)
    if add is None or add.op_type != "Add" or ed.scalar(other_input(add, value) or "") != 1.0:
        return None
    return add


def _match_gelu(ed: GraphEditor, node: Node) -> tuple[str, list[Node], str] | None:
    """(x, the pattern's nodes, approximate) of a GELU around this Erf or Tanh."""
    if node.op_type == "Erf":
        found, approximate = _match_erf_gelu(ed, node), "none"
    else:
        found, approximate = _match_tanh_gelu(ed, node), "tanh"
    if found is None:
        return None
    x, head = found
    one_plus = _plus_one(ed, node.outputs[0])
    tail = _half_x_times(ed, x, one_plus.outputs[0]) if one_plus is not None else None
    if tail is None:
        return None
    return x, head + [node, one_plus] + tail, approximate


def _gelu(ed: GraphEditor, node: Node, found: tuple[str, list[Node], str]) -> None:
    x, nodes, approximate = found
    domain = _target_domain(ed, "Gelu", 20)
    attrs = {"approximate": approximate} if approximate != "none" else {}
    ed.replace(nodes, [Node("Gelu", [x], [nodes[-1].outputs[0]], attrs, domain=domain, name=node.name)])


def _match_erf_gelu(ed: GraphEditor, erf: Node) -> tuple[str, list[Node]] | None:
    scale = ed.producer.get(erf.inputs[0])
    scaled = _scaling(ed, scale) if scale is not None and not ed.removed(scale) else None
    if scaled is None or not _close(scaled[1], math.sqrt(0.5)) or ed.sole_consumer(erf.inputs[0]) is not erf:
        return None
    return scaled[0], [scale]


def _match_tanh_gelu(ed: GraphEditor, tanh: Node) -> tuple[str, list[Node]] | None:
    """tanh(sqrt(2/pi) * (x + 0.044715 * x^3)): returns x and the nodes before the Tanh."""
    outer = ed.made_by(tanh.inputs[0], "Mul")
    scaled = _scaling(ed, outer)
    if scaled is None or not _close(scaled[1], math.sqrt(2 / math.pi)) or ed.sole_consumer(tanh.inputs[0]) is not tanh:
        return None
    inner = ed.made_by(scaled[0], "Add")
    if inner is None or ed.sole_consumer(scaled[0]) is not outer:
        return None
    for x, cubic in (inner.inputs, inner.inputs[::-1]):
        coef = ed.made_by(cubic, "Mul")
        term = _scaling(ed, coef)
        if term is None or not _close(term[1], 0.044715) or ed.sole_consumer(cubic) is not inner:
            continue
        power = ed.made_by(term[0], "Pow")
        if power is not None and power.inputs[0] == x and ed.scalar(power.inputs[1]) == 3.0 \
                and ed.sole_consumer(term[0]) is coef:
            return x, [power, coef, inner, outer]
    return None


def _match_softmax(ed: GraphEditor, exp: Node) -> tuple[Node, Node, int] | None:
    """The ReduceSum and Div making a softmax of this Exp, and its axis."""
    e = exp.outputs[0]
    readers = ed.readers(e)
    if len(readers) != 2 or {n.op_type for n in readers} != {"ReduceSum", "Div"}:
        return None
    total, div = sorted(readers, key=lambda n: n.op_type != "ReduceSum")
    axis = _trailing_axis(_reduce_axes(ed, total))
    if axis is None or (axis != -1 and ed.opset() >= 13) or div.inputs != [e, total.outputs[0]] \
            or ed.sole_consumer(total.outputs[0]) is not div:
        return None
    return total, div, axis


def _softmax(ed: GraphEditor, exp: Node, found: tuple[Node, Node, int]) -> None:
    total, div, axis = found
    ed.replace([exp, total, div], [Node("Softmax", [exp.inputs[0]], [div.outputs[0]], {"axis": axis}, name=div.name)])


def _attention_match(ed: GraphEditor, sm: Node):
    """MatMul(Q, K^T) [* scale] [+ mask] -> Softmax(last axis) -> MatMul(., V), when ``sm`` is
    that Softmax. Scalar Mul/Div on Q or K^T before the product fold into the scale as well.
    The inputs are the operands of the two products, so any head layout before stays."""
    if sm.attrs.get("axis", -1 if ed.opset() >= 13 else 1) != -1:
        return None
    return _match_attention(ed, sm)


def _attention(ed: GraphEditor, sm: Node, found) -> None:
    nodes, inputs, scale, nan_to_zero = found
    attrs = {"scale": scale, **({"nan_to_zero": 1} if nan_to_zero else {})}
    ed.replace(nodes, [Node("FusedAttention", inputs, [nodes[-1].outputs[0]], attrs, domain=ONYX_DOMAIN, name=sm.name)])
    ed.use_onyx_domain()


def _nan_to_zero(ed: GraphEditor, probs: str) -> list[Node] | None:
    """[IsNaN, Where] when ``probs`` is read only by Where(IsNaN(probs), 0, probs), as PyTorch's
    dynamo exporter writes after an attention's Softmax (fully masked rows become zero)."""
    readers = ed.readers(probs)
    if len(readers) != 2 or {n.op_type for n in readers} != {"IsNaN", "Where"} or any(n.domain for n in readers):
        return None
    isnan, where = sorted(readers, key=lambda n: n.op_type != "IsNaN")
    if where.inputs[0] != isnan.outputs[0] or where.inputs[2] != probs or ed.scalar(where.inputs[1]) != 0.0 \
            or ed.sole_consumer(isnan.outputs[0]) is not where:
        return None
    return [isnan, where]


def _strip_scaling(ed: GraphEditor, name: str, reader: Node, nodes: list[Node]) -> tuple[str, float]:
    """Walk up scalar Mul/Div nodes only ``reader`` depends on; (source value, product of scales)."""
    scale = 1.0
    while True:
        node = ed.producer.get(name)
        scaled = _scaling(ed, node) if node is not None and not ed.removed(node) else None
        if scaled is None or ed.sole_consumer(name) is not reader:
            return name, scale
        nodes.append(node)
        scale *= scaled[1]
        name, reader = scaled[0], node


def _match_attention(ed: GraphEditor, sm: Node):
    probs, nodes = sm.outputs[0], [sm]
    masking = _nan_to_zero(ed, probs)
    if masking is not None:
        probs = masking[1].outputs[0]
        nodes += masking
    out = ed.sole_consumer(probs)
    if out is None or out.op_type != "MatMul" or out.domain or out.inputs[0] != probs:
        return None
    mask, scale = "", 1.0
    name, reader = sm.inputs[0], sm
    while True:
        node = ed.producer.get(name)
        if node is None or ed.removed(node) or node.domain or ed.sole_consumer(name) is not reader:
            return None
        if node.op_type == "MatMul":
            break
        scaled = _scaling(ed, node)
        if scaled is not None:
            scale *= scaled[1]
            name = scaled[0]
        elif node.op_type == "Add" and not mask and scale == 1.0 and len(node.inputs) == 2:
            a, b = node.inputs
            score_side = ed.producer.get(a)
            if score_side is None or score_side.op_type not in ("MatMul", "Mul", "Div"):
                a, b = b, a
            name, mask = a, b
        else:
            return None
        nodes.append(node)
        reader = node
    qk = node
    nodes.append(qk)
    q, q_scale = _strip_scaling(ed, qk.inputs[0], qk, nodes)
    kt, k_scale = _strip_scaling(ed, qk.inputs[1], qk, nodes)
    nodes.append(out)
    inputs = [q, kt, out.inputs[1]] + ([mask] if mask else [])
    return nodes, inputs, scale * q_scale * k_scale, masking is not None


# ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul[/Add] -> LayerNormalization.
fuse_layer_norm = rule("Sub", guard=_match_layer_norm, action=_layer_norm)
# x * 0.5 * (1 + erf(x / sqrt 2)) and its tanh approximation -> Gelu.
fuse_gelu = rule("Erf", "Tanh", guard=_match_gelu, action=_gelu)
# Exp -> ReduceSum -> Div -> Softmax over the reduced trailing axes.
fuse_softmax = rule("Exp", guard=_match_softmax, action=_softmax)
# MatMul(Q, K^T) [* scale] [+ mask] -> Softmax(last axis) [-> Where(IsNaN(.), 0, .)] -> MatMul(., V)
# -> FusedAttention.
fuse_attention = rule("Softmax", guard=_attention_match, action=_attention)
