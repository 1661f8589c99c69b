"""What a model file holds: producer, opsets, inputs/outputs, parameters, operators, FLOPs.

Works on the protobuf without reading external data, so inspecting a large model is cheap.
FLOPs are estimated from shapes that onnx's shape inference finds once the symbolic
dimensions named in ``dims`` are fixed; a multiply-add counts as two FLOPs.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import GraphProto, ModelProto, NodeProto, TensorProto

from onyx.model.loader import ModelSource, check_proto, read_proto
from onyx.model.types import shape_of, type_string

Shape = list[int]


@dataclass
class ValueSummary:
    name: str
    type: str
    shape: list[int | str | None] | None


@dataclass
class ModelSummary:
    source: str
    producer: str
    ir_version: int
    opsets: dict[str, int]
    inputs: list[ValueSummary]
    outputs: list[ValueSummary]
    initializer_count: int
    parameter_count: int
    parameter_bytes: int
    node_count: int
    op_histogram: dict[str, int]
    functions: dict[str, int]  # "domain::name" -> nodes in its body
    external_files: dict[str, int]  # location -> bytes referenced
    flops: dict[str, int] = field(default_factory=dict)  # op type -> FLOPs, where shapes are known
    flops_unknown: dict[str, int] = field(default_factory=dict)  # op type -> nodes without known shapes
    symbolic_dims: list[str] = field(default_factory=list)  # the inputs' dimensions not fixed by ``dims``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _op_key(node: NodeProto) -> str:
    domain = node.domain if node.domain not in ("", "ai.onnx") else ""
    return f"{domain}::{node.op_type}" if domain else node.op_type


def iter_nodes(graph: GraphProto) -> Iterator[NodeProto]:
    """Every node of ``graph`` and of its subgraphs (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from iter_nodes(g)


def _tensor_bytes(tensor: TensorProto, count: int) -> int:
    if tensor.data_type == TensorProto.STRING:
        return sum(len(s) for s in tensor.string_data)
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return 0
    return count * itemsize


def _external_files(graph: GraphProto, found: dict[str, int], model_file: str) -> None:
    """Bytes referenced per external-data file. Weights that the loader left in the model file
    itself (large files are read that way, see onyx.model.wire) are not external data."""
    for tensor in graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            location = info.get("location", "?")
            if location == model_file:
                continue
            length = int(info["length"]) if info.get("length", "").isdigit() else _tensor_bytes(tensor, math.prod(tensor.dims))
            found[location] = found.get(location, 0) + length
    for node in graph.node:
        for attr in node.attribute:
            for g in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                _external_files(g, found, model_file)


def summarize(source: ModelSource, dims: dict[str, int] | None = None) -> ModelSummary:
    """Summarize a model (path, bytes or ModelProto); ``dims`` fixes symbolic dimensions for FLOPs."""
    proto, _, label = read_proto(source)
    check_proto(proto, label)
    graph = proto.graph
    initializer_names = {t.name for t in graph.initializer}
    params = [math.prod(t.dims) for t in graph.initializer]
    external: dict[str, int] = {}
    model_file = Path(source).resolve().name if isinstance(source, (str, os.PathLike)) else ""
    _external_files(graph, external, model_file)
    histogram = Counter(_op_key(n) for n in iter_nodes(graph))
    flops, unknown = estimate_flops(proto, dims or {})
    return ModelSummary(
        source=label,
        producer=" ".join(p for p in (proto.producer_name, proto.producer_version) if p) or "(not set)",
        ir_version=proto.ir_version,
        opsets={(o.domain or "ai.onnx"): o.version for o in proto.opset_import},
        inputs=[_value(v) for v in graph.input if v.name not in initializer_names],
        outputs=[_value(v) for v in graph.output],
        initializer_count=len(graph.initializer),
        parameter_count=sum(params),
        parameter_bytes=sum(_tensor_bytes(t, n) for t, n in zip(graph.initializer, params)),
        node_count=sum(histogram.values()),
        op_histogram=dict(histogram.most_common()),
        functions={f"{f.domain}::{f.name}": len(f.node) for f in proto.functions},
        external_files=external,
        flops=flops,
        flops_unknown=unknown,
        symbolic_dims=_symbolic_dims(graph, initializer_names, dims or {}),
    )


def _symbolic_dims(graph: GraphProto, initializer_names: set[str], dims: dict[str, int]) -> list[str]:
    names: list[str] = []
    for value in graph.input:
        if value.name in initializer_names:
            continue
        for dim in value.type.tensor_type.shape.dim:
            name = dim.dim_param if dim.WhichOneof("value") == "dim_param" else ""
            if name and name not in dims and name not in names:
                names.append(name)
    return names


def _value(info: onnx.ValueInfoProto) -> ValueSummary:
    has_type = info.HasField("type")
    return ValueSummary(info.name, type_string(info.type) if has_type else "unknown",
                        shape_of(info.type) if has_type else None)


# -- FLOPs ----------------------------------------------------------------------

def infer_with_dims(proto: ModelProto, dims: dict[str, int]) -> ModelProto:
    """A copy of ``proto`` whose graph inputs' symbolic dimensions named in ``dims`` are fixed,
    with the shapes onnx's shape inference finds (best effort: none where it fails)."""
    graph = GraphProto()
    graph.CopyFrom(proto.graph)
    for value in graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.WhichOneof("value") == "dim_param" and dim.dim_param in dims:
                dim.dim_value = dims[dim.dim_param]
    model = onnx.helper.make_model(graph, opset_imports=proto.opset_import, functions=proto.functions)
    model.ir_version = proto.ir_version
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort; FLOPs then stay unknown
        pass
    return model


def _known_shapes(proto: ModelProto, dims: dict[str, int]) -> dict[str, Shape]:
    """Concrete shapes of the main graph's values after fixing ``dims`` and inferring shapes."""
    model = infer_with_dims(proto, dims)
    shapes: dict[str, Shape] = {t.name: list(t.dims) for t in model.graph.initializer}
    for info in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        shape = shape_of(info.type) if info.HasField("type") else None
        if shape is not None and all(isinstance(d, int) for d in shape):
            shapes[info.name] = shape
    return shapes


def _attr(node: NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _matmul(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
    if ins[0] is None or outs[0] is None or not ins[0]:
        return None
    return 2 * math.prod(outs[0]) * ins[0][-1]


def _gemm(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
    if ins[0] is None or outs[0] is None or len(ins[0]) != 2:
        return None
    k = ins[0][0] if _attr(node, "transA", 0) else ins[0][1]
    return 2 * math.prod(outs[0]) * k + (math.prod(outs[0]) if len(ins) > 2 else 0)


def _conv(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
    if len(ins) < 2 or ins[1] is None or outs[0] is None:
        return None
    per_output = math.prod(ins[1][1:])  # C_in / group * kernel
    return 2 * math.prod(outs[0]) * per_output + (math.prod(outs[0]) if len(ins) > 2 else 0)


def _conv_transpose(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
    if len(ins) < 2 or ins[0] is None or ins[1] is None:
        return None
    return 2 * math.prod(ins[0]) * math.prod(ins[1][1:])


def _pool(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
    kernel = _attr(node, "kernel_shape", None)
    if outs[0] is None or kernel is None:
        return None
    return math.prod(outs[0]) * math.prod(kernel)


def _per_input_element(factor: int) -> Callable[..., int | None]:
    def count(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
        return None if not ins or ins[0] is None else factor * math.prod(ins[0])
    return count


def _per_output_element(factor: int) -> Callable[..., int | None]:
    def count(node: NodeProto, ins: list[Shape | None], outs: list[Shape | None]) -> int | None:
        return None if not outs or outs[0] is None else factor * math.prod(outs[0])
    return count


_ELEMENTWISE = (
    "Add Sub Mul Div Pow Max Min Sum Mean Neg Abs Sqrt Reciprocal Exp Log Relu LeakyRelu PRelu Elu Selu "
    "Sigmoid HardSigmoid Tanh Clip Erf Gelu Softplus Softsign HardSwish Mish Sin Cos Floor Ceil Round "
    "Where Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Not Mod BitShift"
).split()

FLOP_RULES: dict[str, Callable[..., int | None]] = {
    "MatMul": _matmul, "MatMulInteger": _matmul, "Gemm": _gemm, "Conv": _conv, "ConvInteger": _conv,
    "ConvTranspose": _conv_transpose, "MaxPool": _pool, "AveragePool": _pool, "LpPool": _pool,
    "GlobalAveragePool": _per_input_element(1), "GlobalMaxPool": _per_input_element(1),
    "ReduceSum": _per_input_element(1), "ReduceMean": _per_input_element(1), "ReduceMax": _per_input_element(1),
    "ReduceMin": _per_input_element(1), "ReduceProd": _per_input_element(1), "ReduceL2": _per_input_element(2),
    "ReduceSumSquare": _per_input_element(2), "ArgMax": _per_input_element(1), "ArgMin": _per_input_element(1),
    "Softmax": _per_output_element(5), "LogSoftmax": _per_output_element(5),
    "BatchNormalization": _per_output_element(2), "InstanceNormalization": _per_output_element(5),
    "LayerNormalization": _per_output_element(5), "GroupNormalization": _per_output_element(5),
    **{op: _per_output_element(1) for op in _ELEMENTWISE},
}


def estimate_flops(proto: ModelProto, dims: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """FLOPs per op type of the main graph's nodes whose shapes are known, and the count of
    nodes per op type (with a FLOP rule) whose shapes are not. Data-movement ops count zero."""
    shapes = _known_shapes(proto, dims)
    flops: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    for node in proto.graph.node:
        rule = FLOP_RULES.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if rule is None:
            continue
        value = rule(node, [shapes.get(n) for n in node.input], [shapes.get(n) for n in node.output])
        if value is None:
            unknown[node.op_type] += 1
        else:
            flops[node.op_type] += value
    return dict(flops.most_common()), dict(unknown)
