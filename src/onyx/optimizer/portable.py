"""Optimized models saved so that onnxruntime can load them too.

onyx's fused operators live in its own domain ("ai.onyx"), which other runtimes do not know.
Before an optimized model is written (SessionOptions.optimized_model_filepath, ``onyx
optimize``), each is replaced by what onnxruntime runs: its com.microsoft operator of the same
meaning (FusedConv, FusedGemm, Gelu, FastGelu) or the standard operators it fuses (MatMul, Add,
Mul, Softmax and the activation; LayerNormalization, which ai.onnx has from opset 17 only, in
the ReduceMean, Sub, Mul, Sqrt, Div and Add it is made of; FusedElementwise in the nodes of
its body).
onyx loads the result as fast as the original: its optimizer fuses the standard chains again.
PadChannels, which only comes from onnxruntime's own layout-optimized files, stays as it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onyx.model.graph import Model, Node
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor, copy_model

MS = "com.microsoft"
# activations onnxruntime's FusedConv and FusedGemm apply themselves
ORT_FUSED_ACTIVATIONS = {
    "FusedConv": {"", "Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid"},
    "FusedGemm": {"", "Relu", "Tanh", "Sigmoid", "LeakyRelu", "HardSigmoid"},
}


class _Writer:
    """Builds the replacement nodes of one fused node."""

    def __init__(self, ed: GraphEditor, node: Node):
        self.ed, self.node, self.nodes = ed, node, []

    def add(self, op: str, inputs: list[str], attrs: dict | None = None, domain: str = "", out: str | None = None) -> str:
        out = out or self.ed.fresh_name(f"{self.node.outputs[0]}_{op.lower()}")
        self.nodes.append(Node(op, inputs, [out], attrs or {}, domain=domain, name=self.ed.fresh_name(self.node.name or op)))
        return out

    def constant(self, value: float, like: str) -> str:
        return self.ed.add_initializer(f"{self.node.outputs[0]}_{like}", np.array(value, np.float32))

    def activation(self, x: str, activation: str, params: list[float], out: str) -> str:
        """``activation`` of ``x`` as the operator that computes it."""
        if not activation:
            return self.add("Identity", [x], out=out)
        if activation in ("Gelu", "GeluTanh"):
            return self.add("Gelu" if activation == "Gelu" else "FastGelu", [x], domain=MS, out=out)
        if activation == "LeakyRelu":
            return self.add(activation, [x], {"alpha": params[0]}, out=out)
        if activation == "HardSigmoid":
            return self.add(activation, [x], {"alpha": params[0], "beta": params[1]}, out=out)
        if activation == "Clip":
            if self.ed.opset() < 11:
                return self.add("Clip", [x], {"min": params[0], "max": params[1]}, out=out)
            return self.add("Clip", [x, self.constant(params[0], "min"), self.constant(params[1], "max")], out=out)
        return self.add(activation, [x], out=out)


def _activation(node: Node) -> tuple[str, list[float]]:
    name = node.attrs.get("activation", "")
    return (name.decode() if isinstance(name, bytes) else name), [float(p) for p in node.attrs.get("activation_params", [])]


def _rewrite(ed: GraphEditor, node: Node) -> list[Node] | None:
    """The portable nodes computing ``node``, or None to keep it."""
    w, out = _Writer(ed, node), node.outputs[0]
    act, params = _activation(node)
    attrs = {k: v for k, v in node.attrs.items() if k not in ("activation", "activation_params")}
    op = node.op_type
    if act in ORT_FUSED_ACTIVATIONS.get(op, ()):
        if op == "FusedGemm":
            attrs.update(zip(("activation_alpha", "activation_beta"), params))
        elif params:
            attrs["activation_params"] = params
        if act:
            attrs["activation"] = act
        w.add(op, list(node.inputs), attrs, MS, out)
    elif op == "FusedConv":
        y = w.add("Conv", node.inputs[:3], attrs)
        if len(node.inputs) > 3 and node.inputs[3]:
            y = w.add("Add", [y, node.inputs[3]])
        w.activation(y, act, params, out)
    elif op == "FusedGemm":
        w.activation(w.add("Gemm", list(node.inputs), attrs), act, params, out)
    elif op in ("FusedMatMulBias", "ChannelAffine"):
        first = "MatMul" if op == "FusedMatMulBias" else "Mul"
        y = w.add(first, node.inputs[:2])
        if len(node.inputs) > 2 and node.inputs[2]:
            y = w.add("Add", [y, node.inputs[2]])
        w.activation(y, act, params, out)
    elif op == "FusedAttention":
        scores = w.add("MatMul", node.inputs[:2])
        if float(node.attrs.get("scale", 1.0)) != 1.0:
            scores = w.add("Mul", [scores, w.constant(float(node.attrs["scale"]), "scale")])
        if len(node.inputs) > 3 and node.inputs[3]:
            scores = w.add("Add", [scores, node.inputs[3]])
        probs = w.add("Softmax", [scores], {"axis": -1})
        if node.attrs.get("nan_to_zero", 0):
            probs = w.add("Where", [w.add("IsNaN", [probs]), w.constant(0.0, "zero"), probs])
        w.add("MatMul", [probs, node.inputs[2]], out=out)
    elif op == "Gelu":
        w.activation(node.inputs[0], "GeluTanh" if node.attrs.get("approximate", "none") == "tanh" else "Gelu", [], out)
    elif op == "LayerNormalization" and int(node.attrs.get("axis", -1)) < 0:
        _layer_norm(w, node, out)
    elif op == "FusedElementwise":
        return _chain(ed, node)
    else:
        return None
    return w.nodes


def _chain(ed: GraphEditor, node: Node) -> list[Node]:
    """The nodes of a FusedElementwise node's body, with their constants, back in the graph."""
    body = node.attrs["body"]
    for name, value in body.initializers.items():
        ed.graph.initializers.setdefault(name, value)
    nodes: list[Node] = []
    for inner in body.nodes:
        inner = Node(inner.op_type, list(inner.inputs), list(inner.outputs), dict(inner.attrs), inner.domain, inner.name)
        nodes.extend((_rewrite(ed, inner) or [inner]) if inner.domain == ONYX_DOMAIN else [inner])
    return nodes


def _layer_norm(w: _Writer, node: Node, out: str) -> None:
    """LayerNormalization (Y only) in the opset-13 operators it is made of, which
    onnxruntime fuses again (opsets before 17 have no LayerNormalization)."""
    axes = list(range(int(node.attrs.get("axis", -1)), 0))
    x, scale = node.inputs[:2]
    centered = w.add("Sub", [x, w.add("ReduceMean", [x], {"axes": axes})])
    variance = w.add("ReduceMean", [w.add("Mul", [centered, centered])], {"axes": axes})
    std = w.add("Sqrt", [w.add("Add", [variance, w.constant(float(node.attrs.get("epsilon", 1e-5)), "epsilon")])])
    y = w.add("Mul", [w.add("Div", [centered, std]), scale])
    if len(node.inputs) > 2 and node.inputs[2]:
        w.add("Add", [y, node.inputs[2]], out=out)
    else:
        w.add("Identity", [y], out=out)


def portable(model: Model) -> Model:
    """``model`` with its ai.onyx operators replaced by ones onnxruntime runs (a copy), or
    ``model`` itself when it has none."""
    if not any(n.domain == ONYX_DOMAIN for n in model.graph.nodes):
        if ONYX_DOMAIN not in model.opset:
            return model
        return dataclasses.replace(model, opset={d: v for d, v in model.opset.items() if d != ONYX_DOMAIN})
    model = copy_model(model)
    ed = GraphEditor(model)
    kept_onyx = False
    for node in list(model.graph.nodes):
        if node.domain != ONYX_DOMAIN:
            continue
        new = _rewrite(ed, node)
        if new is None:
            kept_onyx = True
            continue
        ed.replace([node], new)
        if any(n.domain == MS for n in new):
            model.opset.setdefault(MS, 1)
    ed.commit()
    if not kept_onyx:
        model.opset.pop(ONYX_DOMAIN, None)
    return model
