"""Small models for the compatibility suite."""

from __future__ import annotations

from onnx import TensorProto, helper

F = TensorProto.FLOAT


def model(nodes, inputs, outputs, opset: int = 17) -> bytes:
    graph = helper.make_graph(nodes, "compat", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def tensor(name: str, elem_type: int = F, shape=None):
    return helper.make_tensor_value_info(name, elem_type, shape)


def double_model(shape=("N", 3), elem_type: int = F) -> bytes:
    """y = x + x and z = Identity(y)."""
    return model(
        [helper.make_node("Add", ["x", "x"], ["y"]), helper.make_node("Identity", ["y"], ["z"])],
        [tensor("x", elem_type, list(shape))],
        [tensor("y", elem_type, None), tensor("z", elem_type, None)],
    )


def identity_model(elem_type: int = F, shape=None) -> bytes:
    return model([helper.make_node("Identity", ["x"], ["y"])], [tensor("x", elem_type, shape)], [tensor("y", elem_type, None)])


def reshape_model() -> bytes:
    """y = Reshape(x, s): fails at run time when s does not fit x."""
    return model(
        [helper.make_node("Reshape", ["x", "s"], ["y"])],
        [tensor("x", F, [None]), tensor("s", TensorProto.INT64, [1])],
        [tensor("y", F, None)],
    )


def session(rt, model_bytes: bytes):
    return rt.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
