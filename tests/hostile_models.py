"""Small malformed or hostile models, built with onnx.helper: the regression cases of issue 12
(and seeds for the fuzzer). Each builder returns (model, feeds)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

X2 = {"x": np.ones(2, np.float32)}


def tensor(name: str, shape, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, initializers=(), opset=17, **kwargs) -> onnx.ModelProto:
    extra_opsets = kwargs.pop("extra_opsets", [])
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers),
                              sparse_initializer=kwargs.pop("sparse", None))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra_opsets], **kwargs)


def unary(op: str = "Relu", out_type=TensorProto.FLOAT, **attrs) -> onnx.ModelProto:
    """y = op(x) over x: float[2]."""
    return model([helper.make_node(op, ["x"], ["y"], name="n", **attrs)], [tensor("x", [2])], [tensor("y", None, out_type)])


def conv_batchnorm(parameter_lengths: dict[str, int]) -> onnx.ModelProto:
    """Conv (4 filters) -> BatchNormalization reading the given parameters (name -> length)."""
    inits = [numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32), "w")]
    inits += [numpy_helper.from_array(np.ones(n, np.float32), k) for k, n in parameter_lengths.items()]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", *parameter_lengths], ["y"], name="bn")]
    return model(nodes, [tensor("x", [1, 3, 2, 2])], [tensor("y", None)], inits)


def with_raw_attribute(op: str, name: str, kind: int, fill) -> onnx.ModelProto:
    """y = op(x) whose attribute ``name`` is set by hand (``fill(attr)``) with type ``kind``."""
    node = helper.make_node(op, ["x"], ["y"], name="n")
    attr = node.attribute.add()
    attr.name, attr.type = name, kind
    fill(attr)
    return model([node], [tensor("x", [2, 2])], [tensor("y", None)])


def ref_attr_in_main_graph() -> onnx.ModelProto:
    """LeakyRelu whose alpha refers to a caller's attribute, outside any function."""
    return with_raw_attribute("LeakyRelu", "alpha", AttributeProto.FLOAT, lambda a: setattr(a, "ref_attr_name", "a"))


def type_proto_attribute() -> onnx.ModelProto:
    """Flatten whose axis attribute holds a TypeProto."""
    return with_raw_attribute("Flatten", "axis", AttributeProto.TYPE_PROTO,
                              lambda a: a.tp.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, [1])))


def sparse_bias(values, indices, dims) -> onnx.ModelProto:
    """y = x + s where s is a sparse initializer."""
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(np.array(values, np.float32), "s"),
                                       numpy_helper.from_array(np.array(indices, np.int64), "i"), dims)
    return model([helper.make_node("Add", ["x", "s"], ["y"], name="add")], [tensor("x", [2])], [tensor("y", None)],
                 sparse=[sparse])


def expand_to(size: int) -> onnx.ModelProto:
    """y = Expand(x, [size]): a broadcast view, materialised only when returned."""
    shape = numpy_helper.from_array(np.array([size], np.int64), "shape")
    return model([helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")], [tensor("x", [1])],
                 [tensor("y", None)], [shape])


def function_chain(depth: int) -> onnx.ModelProto:
    """F0 calls F1 ... calls F{depth-1}, which applies Relu."""
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    functions = []
    for i in range(depth):
        body = helper.make_node(f"F{i + 1}", ["p"], ["r"], domain="local") if i < depth - 1 else \
            helper.make_node("Relu", ["p"], ["r"])
        functions.append(helper.make_function("local", f"F{i}", ["p"], ["r"], [body], opsets))
    return model([helper.make_node("F0", ["x"], ["y"], domain="local", name="call")], [tensor("x", [2])],
                 [tensor("y", [2])], functions=functions, extra_opsets=opsets[1:])


def two_writers() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Neg", ["x"], ["y"], name="second")],
                 [tensor("x", [2])], [tensor("y", [2])])


def overwrites_input() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["t"], name="r"), helper.make_node("Neg", ["t"], ["x"], name="clobber"),
                  helper.make_node("Neg", ["t"], ["y"], name="out")], [tensor("x", [2])], [tensor("y", [2])])


def overwrites_initializer() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["c"], name="clobber"), helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                 [tensor("x", [2])], [tensor("y", [2])], [numpy_helper.from_array(np.ones(2, np.float32), "c")])


def negative_dims() -> onnx.ModelProto:
    bias = numpy_helper.from_array(np.ones(2, np.float32), "c")
    bias.dims[:] = [-2]
    return model([helper.make_node("Add", ["x", "c"], ["y"], name="add")], [tensor("x", [2])], [tensor("y", [2])], [bias])


def wrong_value_info_type() -> onnx.ModelProto:
    m = model([helper.make_node("Relu", ["x"], ["t"], name="r"), helper.make_node("Neg", ["t"], ["y"], name="neg")],
              [tensor("x", [2])], [tensor("y", [2])])
    m.graph.value_info.append(tensor("t", [2], TensorProto.INT64))
    return m


def no_outputs() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["y"], name="r")], [tensor("x", [2])], [])
