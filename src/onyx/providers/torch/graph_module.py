"""ONNX nodes -> one ``torch.fx.GraphModule``: a placeholder per input, one ``call_function``
per node (its converter, attributes bound as keyword arguments), constants as the module's
buffers or parameters, and the outputs returned as a tuple."""

from __future__ import annotations

import keyword
import operator
import re
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.fx

from onyx.errors import UnsupportedOperator
from onyx.model.graph import Graph
from onyx.providers.torch.conversion import Call, constant_values, convert_graph
from onyx.providers.torch.dtypes import to_tensor


def _identifier(name: str) -> str:
    """A Python identifier naming the value ``name`` (fx names placeholders after it)."""
    ident = re.sub(r"\W", "_", name)
    return ident if ident.isidentifier() and not keyword.iskeyword(ident) else f"v_{ident}"


def _attribute_name(prefix: str, name: str, taken: set[str]) -> str:
    base = f"{prefix}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"[:60]
    candidate, k = base, 1
    while candidate in taken:
        candidate, k = f"{base}_{k}", k + 1
    taken.add(candidate)
    return candidate


def build_from_calls(calls: Sequence[Call], inputs: Sequence[str], outputs: Sequence[str],
                     constants: Mapping[str, np.ndarray] | None = None, device: str | torch.device = "cpu",
                     trainable: bool = False) -> torch.fx.GraphModule:
    """The GraphModule running ``calls`` (in order): it takes the values of ``inputs`` and
    returns a tuple of the values of ``outputs``. ``constants`` (values the calls read that are
    not inputs) become buffers on ``device``, or parameters where ``trainable`` (floating point)."""
    root = torch.nn.Module()
    graph = torch.fx.Graph()
    taken: set[str] = set()
    env: dict[str, torch.fx.Node] = {}
    for name in inputs:
        env[name] = graph.placeholder(_identifier(name))
    constants = dict(constants or {})

    def constant(name: str, value: np.ndarray) -> torch.fx.Node:
        attr = _attribute_name("c" if not trainable else "p", name, taken)
        tensor = to_tensor(value, device)
        if trainable and tensor.is_floating_point():
            root.register_parameter(attr, torch.nn.Parameter(tensor))
        else:
            root.register_buffer(attr, tensor)
        return graph.get_attr(attr)

    def value(name: str) -> torch.fx.Node | None:
        if not name:
            return None
        if name not in env:
            if name not in constants:
                raise UnsupportedOperator(f"'{name}' is read by the converted nodes but is neither an input nor a constant")
            env[name] = constant(name, constants[name])
        return env[name]

    def literal(arg, owner: str):
        if isinstance(arg, np.ndarray):
            return constant(f"{owner}_attr", arg)
        if isinstance(arg, (list, tuple)):
            return type(arg)(literal(a, owner) for a in arg)
        return arg

    for call in calls:
        node = call.node
        args = tuple(value(n) for n in node.inputs)
        kwargs = {k: literal(v, node.name or node.op_type) for k, v in call.kwargs.items()}
        result = graph.call_function(call.converter.fn, args, kwargs)
        if not call.converter.multiple:
            env[node.outputs[0]] = result
        else:
            for i, out in enumerate(node.outputs):
                if out:
                    env[out] = graph.call_function(operator.getitem, (result, i))
    graph.output(tuple(value(n) for n in outputs))
    return torch.fx.GraphModule(root, graph, class_name="OnnxPartition")


def build_graph_module(graph: Graph, opset: Mapping[str, int], device: str | torch.device = "cpu", *,
                       trainable: bool = False) -> torch.fx.GraphModule:
    """The whole ``graph`` as one GraphModule: it takes the graph inputs (those that are not
    initializers) in order and returns a tuple of the graph outputs; initializers become buffers
    on ``device`` (parameters where ``trainable``, for floating-point ones). Raises
    UnsupportedOperator naming the nodes that do not convert."""
    from onyx.model.topology import topological_order

    calls, refused = convert_graph(graph, opset)
    if refused:
        nodes = {id(n): n for n in graph.nodes}
        named = "; ".join(f"{nodes[k].describe()}: {why}" for k, why in list(refused.items())[:10])
        raise UnsupportedOperator(f"{len(refused)} node(s) do not convert to PyTorch: {named}")
    constants = constant_values(graph)
    inputs = [v.name for v in graph.inputs if v.name not in constants]
    order = topological_order(graph, set(inputs) | set(constants))
    return build_from_calls([calls[id(n)] for n in order], inputs, [v.name for v in graph.outputs],
                            constants, device, trainable)
