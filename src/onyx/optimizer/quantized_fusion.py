"""Fusions of the integer subgraphs onnxruntime's quantizer writes.

``quantize_dynamic`` turns each MatMul into DynamicQuantizeLinear(A) -> MatMulInteger(A_q, B_q,
A_zp, B_zp) -> Cast(float) -> Mul(A_scale * B_scale) [-> Add(bias)]. The chain from
MatMulInteger on is com.microsoft's MatMulIntegerToFloat, which onyx computes without the int32
tensor and its two extra passes (the DynamicQuantizeLinear stays: its outputs feed several
products). The result is bit for bit the chain's: the exact integer sums rounded once to float32,
times the same float32 scale product, plus the same bias.
"""

from __future__ import annotations

from onnx import TensorProto

from onyx.model.graph import Node
from onyx.optimizer.editor import GraphEditor, other_input
from onyx.optimizer.rules import rule

MS = "com.microsoft"


def _scales(ed: GraphEditor, scale: str) -> tuple[str, str, Node] | None:
    """(a_scale, b_scale, the Mul making them one) when ``scale`` is a_scale * constant b_scale."""
    mul = ed.made_by(scale, "Mul")
    if mul is None or len(mul.inputs) != 2:
        return None
    for a_scale, b_scale in (mul.inputs, mul.inputs[::-1]):
        constant = ed.constant(b_scale)
        if constant is not None and constant.dtype.kind == "f" and constant.ndim <= 1 and ed.constant(a_scale) is None:
            return a_scale, b_scale, mul
    return None


def _per_tensor(ed: GraphEditor, zero_point: str) -> bool:
    """Whether A's zero point is absent, one constant value or DynamicQuantizeLinear's (a scalar):
    MatMulIntegerToFloat has no per-row zero points."""
    if not zero_point:
        return True
    constant = ed.constant(zero_point)
    if constant is not None:
        return constant.size == 1
    return ed.made_by(zero_point, "DynamicQuantizeLinear") is not None


def _match(ed: GraphEditor, mm: Node):
    """MatMulInteger -> Cast(float) -> Mul(a_scale * b_scale) [-> Add(1-D constant bias)]."""
    cast = ed.sole_consumer(mm.outputs[0])
    if cast is None or cast.op_type != "Cast" or cast.domain or cast.attrs.get("to") != TensorProto.FLOAT:
        return None
    mul = ed.sole_consumer(cast.outputs[0])
    scale = other_input(mul, cast.outputs[0]) if mul is not None and mul.op_type == "Mul" and not mul.domain else None
    scales = _scales(ed, scale) if scale else None
    b = ed.constant(mm.inputs[1])
    if scales is None or b is None or b.ndim != 2 or not _per_tensor(ed, mm.inputs[2] if len(mm.inputs) > 2 else ""):
        return None
    a_scale, b_scale, scale_mul = scales
    nodes = [mm, cast, mul] + ([scale_mul] if ed.sole_consumer(scale) is mul else [])
    bias, out = "", mul.outputs[0]
    add = ed.sole_consumer(out)
    other = other_input(add, out) if add is not None and add.op_type == "Add" and not add.domain else None
    constant = ed.constant(other) if other else None
    if constant is not None and constant.dtype.kind == "f" and constant.shape == (b.shape[1],):
        bias, out = other, add.outputs[0]
        nodes.append(add)
    return nodes, a_scale, b_scale, bias, out


def _fuse(ed: GraphEditor, mm: Node, found) -> None:
    nodes, a_scale, b_scale, bias, out = found
    zero_points = (list(mm.inputs[2:4]) + ["", ""])[:2]
    inputs = [mm.inputs[0], mm.inputs[1], a_scale, b_scale, *zero_points, bias]
    while not inputs[-1]:
        inputs.pop()
    ed.replace(nodes, [Node("MatMulIntegerToFloat", inputs, [out], {}, domain=MS, name=mm.name)])
    ed.model.opset.setdefault(MS, 1)


# MatMulInteger -> Cast -> Mul(scales) [-> Add(bias)] -> com.microsoft MatMulIntegerToFloat.
fuse_matmul_integer_to_float = rule("MatMulInteger", guard=_match, action=_fuse)
