"""Fusions around the linear operators: Conv+BatchNormalization folding, and
Conv/Gemm/MatMul followed by a bias Add and an activation into one ai.onyx op."""

from __future__ import annotations

import numpy as np

from onyx.model.graph import Model, Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, other_input


def fold_conv_batchnorm(model: Model) -> None:
    """Conv -> BatchNormalization (inference) becomes a Conv with rescaled weights and bias."""
    ed = GraphEditor(model)
    for bn in list(model.graph.nodes):
        if bn.op_type != "BatchNormalization" or bn.domain or any(bn.outputs[1:]) or ed.removed(bn):
            continue
        if bn.attrs.get("training_mode", 0) or bn.attrs.get("spatial", 1) != 1:
            continue
        conv = ed.made_by(bn.inputs[0], "Conv")
        if conv is None or ed.sole_consumer(conv.outputs[0]) is not bn:
            continue
        constants = ed.conv_constants(conv)
        stats = [ed.constant(n) for n in bn.inputs[1:5]]
        if constants is None or any(s is None for s in stats):
            continue
        w, b = constants
        scale, bias, mean, var = (s.astype(np.float64) for s in stats)
        factor = scale / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))
        new_w = (w * factor.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        new_b = (((b.astype(np.float64) if b is not None else 0.0) - mean) * factor + bias).astype(w.dtype)
        inputs = [conv.inputs[0], ed.add_initializer(conv.inputs[1] + "_bn", new_w),
                  ed.add_initializer((conv.inputs[2] if b is not None else conv.outputs[0]) + "_bn_bias", new_b)]
        fused = Node("Conv", inputs, [bn.outputs[0]], dict(conv.attrs), name=conv.name or bn.name)
        ed.replace([conv, bn], [fused])
    ed.commit()


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


def fuse_pad_conv(model: Model) -> None:
    """A zero Pad of the spatial axes in front of a Conv becomes the Conv's own padding."""
    ed = GraphEditor(model)
    for pad in list(model.graph.nodes):
        if pad.op_type != "Pad" or pad.domain or ed.removed(pad):
            continue
        conv = ed.sole_consumer(pad.outputs[0])
        pads = _constant_pads(ed, pad)
        if conv is None or conv.op_type != "Conv" or conv.domain or conv.inputs[0] != pad.outputs[0] or pads is None:
            continue
        rank = len(pads) // 2
        begin, end = pads[:rank], pads[rank:]
        if conv.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET") or min(pads) < 0 or begin[:2] != [0, 0] \
                or end[:2] != [0, 0]:
            continue
        spatial = rank - 2
        old = list(conv.attrs.get("pads") or [0] * (2 * spatial))
        attrs = dict(conv.attrs)
        attrs["pads"] = [o + p for o, p in zip(old, begin[2:] + end[2:])]
        fused = Node("Conv", [pad.inputs[0]] + conv.inputs[1:], list(conv.outputs), attrs, name=conv.name)
        ed.replace([pad, conv], [fused])
    ed.commit()


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


def fuse_conv_activation(model: Model) -> None:
    """Conv [+ per-channel Add] [+ residual Add or two-input Sum] + activation -> FusedConv."""
    ed = GraphEditor(model)
    for conv in list(model.graph.nodes):
        if conv.op_type != "Conv" or conv.domain or ed.removed(conv):
            continue
        w = ed.constant(conv.inputs[1])
        inputs = list(conv.inputs) + [""] * (3 - len(conv.inputs))
        chain, attrs, out = [conv], dict(conv.attrs), conv.outputs[0]
        add = ed.sole_consumer(out)
        if add is not None and add.op_type == "Add" and not add.domain and w is not None:
            other = other_input(add, out)
            bias = ed.constant(other) if other else None
            bias = _per_channel(bias, w.shape[0], w.ndim - 2) if bias is not None and bias.dtype == w.dtype else None
            current = ed.constant(inputs[2]) if inputs[2] else np.zeros((), w.dtype)
            if bias is not None and current is not None:
                inputs[2] = ed.add_initializer(other + "_conv_bias", current + bias)
                chain.append(add)
                out = add.outputs[0]
                add = ed.sole_consumer(out)
        if add is not None and _is_binary_add(add):
            other = other_input(add, out)
            if other and ed.constant(other) is None:
                inputs.append(other)
                chain.append(add)
                out = add.outputs[0]
        out = take_activation(ed, out, chain, attrs)
        if len(chain) == 1:
            continue
        while not inputs[-1]:
            inputs.pop()
        ed.replace(chain, [Node("FusedConv", inputs, [out], attrs, domain=ONYX_DOMAIN, name=conv.name)])
        ed.use_onyx_domain()
    ed.commit()


def fuse_gemm_activation(model: Model) -> None:
    """Gemm + activation -> FusedGemm."""
    ed = GraphEditor(model)
    for gemm in list(model.graph.nodes):
        if gemm.op_type != "Gemm" or gemm.domain or ed.removed(gemm) or ed.opset() < 7:
            continue
        chain, attrs = [gemm], dict(gemm.attrs)
        out = take_activation(ed, gemm.outputs[0], chain, attrs)
        if len(chain) > 1:
            ed.replace(chain, [Node("FusedGemm", list(gemm.inputs), [out], attrs, domain=ONYX_DOMAIN, name=gemm.name)])
            ed.use_onyx_domain()
    ed.commit()


def fuse_matmul_bias(model: Model) -> None:
    """MatMul [+ Add of a 1-D constant] [+ activation] -> FusedMatMulBias."""
    ed = GraphEditor(model)
    for mm in list(model.graph.nodes):
        if mm.op_type != "MatMul" or mm.domain or ed.removed(mm):
            continue
        chain, attrs, out, inputs = [mm], {}, mm.outputs[0], list(mm.inputs)
        add = ed.sole_consumer(out)
        other = other_input(add, out) if add is not None and add.op_type == "Add" and not add.domain else None
        bias = ed.constant(other) if other else None
        b = ed.constant(mm.inputs[1])
        if bias is not None and bias.ndim == 1 and (b is None or (b.ndim >= 1 and b.shape[-1] == bias.size and b.dtype == bias.dtype)):
            inputs.append(other)
            chain.append(add)
            out = add.outputs[0]
        out = take_activation(ed, out, chain, attrs)
        if len(chain) > 1:
            ed.replace(chain, [Node("FusedMatMulBias", inputs, [out], attrs, domain=ONYX_DOMAIN, name=mm.name)])
            ed.use_onyx_domain()
    ed.commit()
