"""Fuzz cases as hypothesis strategies: seed models mutated at the byte and protobuf levels,
external-data references aimed outside the model's folder, and generated graphs.

A case is a serialized model (possibly invalid), the files placed beside it, the
optimization level to load it with and a seed for its feeds. ``SECRET`` in an external-data
location stands for the absolute path of a file outside the model's folder (the worker
fills it in).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnx.defs
from hypothesis import strategies as st
from onnx import AttributeProto, TensorProto, helper, numpy_helper

SECRET = "@SECRET@"
TESTS = Path(__file__).resolve().parent.parent
EDGE_INTS = [-(2**63), -(2**31), -2, -1, 0, 1, 2, 3, 7, 64, 2**31 - 1, 10**6, 10**12, 2**62]
EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, float("inf"), float("-inf"), float("nan")]
LOCATIONS = [SECRET, "../secret.bin", "sub/../../secret.bin", "/etc/passwd", "weights.bin", "missing.bin",
             "w\0.bin", "", ".", "sub", "link.bin", "C:weights.bin", "weights.bin:stream"]


@dataclass
class Case:
    """One input to the runtime: what to load and how."""

    model: bytes
    description: str
    level: int = 99
    feeds_seed: int = 0
    files: dict[str, bytes] = field(default_factory=dict)


@functools.lru_cache(maxsize=None)
def seed_models() -> dict[str, bytes]:
    """The bundled example, the test fixtures and small generated models, serialized."""
    import hostile_models as hm
    import models

    seeds = {p.stem: p.read_bytes() for p in sorted((TESTS / "fixtures").glob("*.onnx"))}
    seeds["digits"] = (TESTS.parent / "examples" / "digits" / "digits.onnx").read_bytes()
    built = {
        "conv": models.conv_model(), "mlp": models.mlp_model(), "add": models.add_model(),
        "bias": models.add_bias_model(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "conv_batchnorm": hm.conv_batchnorm({"s": 4, "b": 4, "m": 4, "v": 4}),
        "function_chain": hm.function_chain(3), "sparse": hm.sparse_bias([1, 2], [0, 1], [2]),
        "expand": hm.expand_to(4),
    }
    seeds.update({name: m.SerializeToString() for name, m in built.items()})
    return seeds


levels = st.sampled_from([0, 1, 2, 99])


@st.composite
def byte_mutations(draw) -> Case:
    """A seed model with a few bytes overwritten, or cut short."""
    name = draw(st.sampled_from(sorted(seed_models())))
    data = bytearray(seed_models()[name])
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        return Case(bytes(data[:cut]), f"{name} cut at {cut}", draw(levels), draw(st.integers(0, 2**16)))
    edits = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=6))
    for pos, value in edits:
        data[pos] = value
    return Case(bytes(data), f"{name} bytes {edits}", draw(levels), draw(st.integers(0, 2**16)))


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            for sub in [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs):
                nodes += _all_nodes(sub)
    return nodes


def _value_names(graph: onnx.GraphProto) -> list[str]:
    names = [v.name for v in graph.input] + [t.name for t in graph.initializer]
    return names + [o for n in graph.node for o in n.output] + ["", "ghost"]


def _mutate_node(draw, model: onnx.ModelProto) -> str:
    nodes = _all_nodes(model.graph)
    if not nodes:
        return "no node"
    node = draw(st.sampled_from(nodes))
    names = _value_names(model.graph)
    what = draw(st.sampled_from(["input", "output", "op", "drop_input", "add_input", "attr", "drop_attr", "domain"]))
    if what == "input" and node.input:
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
    elif what == "output" and node.output:
        node.output[draw(st.integers(0, len(node.output) - 1))] = draw(st.sampled_from(names))
    elif what == "op":
        node.op_type = draw(st.sampled_from(OPS + ["Loop", "If", "Scan", "NoSuchOp", "Constant"]))
    elif what == "drop_input" and node.input:
        del node.input[draw(st.integers(0, len(node.input) - 1))]
    elif what == "add_input":
        node.input.append(draw(st.sampled_from(names)))
    elif what == "attr" and node.attribute:
        _mutate_attribute(draw, draw(st.sampled_from(list(node.attribute))))
    elif what == "drop_attr" and node.attribute:
        del node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
    elif what == "domain":
        node.domain = draw(st.sampled_from(["", "ai.onnx.ml", "com.microsoft", "local", "ai.onyx"]))
    return f"node {node.name or node.op_type}: {what}"


def _mutate_attribute(draw, attr: AttributeProto) -> None:
    kind = draw(st.sampled_from(["value", "type", "ref"]))
    if kind == "type":
        attr.type = draw(st.sampled_from(list(AttributeProto.AttributeType.values())))
    elif kind == "ref":
        attr.ref_attr_name = "missing"
    elif attr.type == AttributeProto.INT:
        attr.i = draw(st.sampled_from(EDGE_INTS))
    elif attr.type == AttributeProto.FLOAT:
        attr.f = draw(st.sampled_from(EDGE_FLOATS))
    elif attr.type == AttributeProto.INTS:
        attr.ints[:] = draw(st.lists(st.sampled_from(EDGE_INTS), max_size=6))
    elif attr.type == AttributeProto.STRING:
        attr.s = draw(st.sampled_from([b"", b"NOTSET", b"\xff\xfe", b"SAME_UPPER", b"x" * 300]))
    elif attr.type == AttributeProto.TENSOR:
        _mutate_tensor(draw, attr.t)


def _mutate_tensor(draw, tensor: TensorProto) -> str:
    what = draw(st.sampled_from(["dims", "type", "raw", "external"]))
    if what == "dims":
        tensor.dims[:] = draw(st.lists(st.sampled_from(EDGE_INTS), max_size=4))
    elif what == "type":
        tensor.data_type = draw(st.sampled_from([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 16, 17, 21, 22, 99]))
    elif what == "raw":
        data = tensor.raw_data
        tensor.raw_data = data[:draw(st.integers(0, len(data)))] if data else b"\x01" * draw(st.integers(0, 9))
    return f"tensor {tensor.name}: {what}"


def _point_to_external_data(draw, tensor: TensorProto) -> tuple[str, dict[str, bytes]]:
    """Move a tensor's bytes into a file (or claim they are in one) at a drawn location."""
    try:
        data = numpy_helper.to_array(tensor).tobytes() if tensor.data_location != TensorProto.EXTERNAL else b""
    except Exception:  # noqa: BLE001 - a tensor already mutated out of shape keeps no bytes
        data = b""
    location = draw(st.sampled_from(LOCATIONS))
    offset = draw(st.sampled_from([0, 0, 3, -1, 2**40]))
    length = draw(st.sampled_from([len(data), len(data), 0, len(data) + 1, -5]))
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.ClearField("int64_data")
    tensor.ClearField("int32_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in [("location", location), ("offset", str(offset)), ("length", str(length))]:
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    files = {"weights.bin": b"\0" * max(offset, 0) + data if offset < 2**20 else data, "secret.bin": data}
    return f"tensor {tensor.name}: external at {location!r} offset {offset} length {length}", files


@st.composite
def proto_mutations(draw) -> Case:
    """A seed model with one to three structural edits: nodes, attributes, tensors, types, opsets."""
    name = draw(st.sampled_from(sorted(seed_models())))
    model = onnx.ModelProto()
    model.ParseFromString(seed_models()[name])
    done, files = [], {}
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["node", "node", "node", "tensor", "external", "type", "opset", "graph"]))
        tensors = list(model.graph.initializer)
        if what == "node":
            done.append(_mutate_node(draw, model))
        elif what == "tensor" and tensors:
            done.append(_mutate_tensor(draw, draw(st.sampled_from(tensors))))
        elif what == "external" and tensors:
            note, files = _point_to_external_data(draw, draw(st.sampled_from(tensors)))
            done.append(note)
        elif what == "type" and (values := [*model.graph.input, *model.graph.output, *model.graph.value_info]):
            value = draw(st.sampled_from(values))
            value.type.tensor_type.elem_type = draw(st.sampled_from([0, 1, 6, 7, 9, 11, 16, 99]))
            done.append(f"type of {value.name}")
        elif what == "opset":
            model.opset_import[0].version = draw(st.sampled_from([1, 6, 9, 11, 13, 17, 21, 23, 99]))
            done.append(f"opset {model.opset_import[0].version}")
        elif what == "graph":
            part = draw(st.sampled_from(["output", "input", "node", "duplicate"]))
            seq = {"output": model.graph.output, "input": model.graph.input, "node": model.graph.node}.get(part)
            if part == "duplicate" and model.graph.node:
                model.graph.node.append(draw(st.sampled_from(list(model.graph.node))))
            elif seq:
                del seq[draw(st.integers(0, len(seq) - 1))]
            done.append(f"graph: drop/duplicate {part}")
    return Case(model.SerializeToString(), f"{name}: {'; '.join(done)}", draw(levels), draw(st.integers(0, 2**16)),
                files)


# operators for generated graphs: (op, number of inputs, attribute strategies)
UNARY = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Identity", "Softmax", "Floor", "Not"]
BINARY = ["Add", "Sub", "Mul", "Div", "MatMul", "Max", "Min", "Pow", "Equal", "Greater", "Where"]
SHAPED = ["Reshape", "Transpose", "Concat", "Flatten", "ReduceSum", "ReduceMean", "Expand", "Tile", "Slice",
          "Gather", "Squeeze", "Unsqueeze", "Cast", "Split", "Shape", "ConstantOfShape", "Range", "TopK", "Pad"]
OPS = UNARY + BINARY + SHAPED + ["Conv", "BatchNormalization", "Gemm", "LayerNormalization", "CumSum", "Resize"]


@functools.lru_cache(maxsize=None)
def _schema_attributes(op: str, opset: int) -> frozenset[str]:
    try:
        return frozenset(onnx.defs.get_schema(op, opset).attributes)
    except onnx.defs.SchemaError:
        return frozenset()


@functools.lru_cache(maxsize=None)
def _schema_arity(op: str, opset: int) -> tuple[int, int]:
    """The fewest and (at most 3) the most inputs the operator takes."""
    try:
        schema = onnx.defs.get_schema(op, opset)
    except onnx.defs.SchemaError:
        return 1, 2
    return schema.min_input, max(schema.min_input, min(schema.max_input, 3))


def _int_list(draw, size: int) -> list[int]:
    return draw(st.lists(st.one_of(st.integers(-3, 4), st.sampled_from(EDGE_INTS)), min_size=size, max_size=size))


@st.composite
def generated_graphs(draw) -> Case:
    """A random chain of operators over values of random shapes, with random attributes and
    constant inputs (valid or not), some intermediates also returned as outputs."""
    rank = draw(st.integers(0, 4))
    shape = [draw(st.sampled_from([1, 2, 3, "n"])) for _ in range(rank)]
    elem = draw(st.sampled_from([TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.INT64, TensorProto.DOUBLE,
                                 TensorProto.BOOL, TensorProto.FLOAT16]))
    nodes, inits, values = [], [], ["x"]
    opset = draw(st.sampled_from([13, 17, 18, 21]))
    for i in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(OPS))
        low, high = _schema_arity(op, opset)
        arity = draw(st.integers(0, 3)) if draw(st.integers(0, 9)) == 9 else draw(st.integers(low, high))
        inputs = []
        for _ in range(arity):
            if draw(st.booleans()):
                inputs.append(draw(st.sampled_from(values)))
            else:
                name = f"c{len(inits)}"
                dims = [draw(st.integers(0, 3)) for _ in range(draw(st.integers(0, 3)))]
                const_type = draw(st.sampled_from([TensorProto.INT64, TensorProto.FLOAT, elem]))
                data = np.asarray(_int_list(draw, int(np.prod(dims)))).reshape(dims)
                with np.errstate(all="ignore"):
                    data = data.astype(helper.tensor_dtype_to_np_dtype(const_type))
                inits.append(numpy_helper.from_array(data, name))
                inputs.append(name)
        attrs = {}
        menu = ["axis", "axes", "perm", "to", "keepdims", "alpha", "value"]
        if draw(st.integers(0, 9)) < 9:  # mostly attributes the operator defines
            menu = [a for a in menu if a in _schema_attributes(op, opset)] or ["axis"]
        for attr in draw(st.lists(st.sampled_from(menu), max_size=2, unique=True)):
            if attr in ("axes", "perm"):
                attrs[attr] = _int_list(draw, draw(st.integers(0, 4)))
            elif attr == "alpha":
                attrs[attr] = draw(st.sampled_from(EDGE_FLOATS))
            elif attr == "value":
                attrs[attr] = helper.make_tensor("v", TensorProto.FLOAT, [1], [draw(st.sampled_from(EDGE_FLOATS))])
            else:
                attrs[attr] = draw(st.sampled_from([-1, 0, 1, 2, 7, 99] if attr != "to" else [1, 6, 7, 9, 10, 11, 16]))
        outputs = [f"v{i}"] if op not in ("Split", "TopK") else [f"v{i}", f"v{i}_b"]
        node = helper.make_node(op, inputs, outputs, name=f"n{i}", **{k: v for k, v in attrs.items() if v != []})
        node.attribute.extend(helper.make_attribute(k, v, attr_type=AttributeProto.INTS) for k, v in attrs.items() if v == [])
        nodes.append(node)
        values += outputs
    returned = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
    extra = [helper.make_node("Identity", [returned[0]], ["alias"], name="alias")] if draw(st.booleans()) else []
    outputs = [helper.make_tensor_value_info(n, 0, None) for n in dict.fromkeys(returned)]
    if extra:
        outputs.append(helper.make_tensor_value_info("alias", 0, None))
    graph = helper.make_graph(nodes + extra, "generated", [helper.make_tensor_value_info("x", elem, shape)],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    ops = " -> ".join(n.op_type for n in nodes)
    return Case(model.SerializeToString(), f"generated opset {opset}: {ops}", draw(levels), draw(st.integers(0, 2**16)))


def fuzz_cases() -> st.SearchStrategy[Case]:
    return st.one_of(byte_mutations(), proto_mutations(), generated_graphs())
