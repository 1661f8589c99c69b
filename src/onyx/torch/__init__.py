"""ONNX to PyTorch: a whole model as one ``torch.nn.Module`` to fine-tune, ``torch.compile`` or
export again (the ``[torch]`` extra; importing this module imports torch, ``import onyx`` does not).

    import onyx.torch
    module = onyx.torch.to_torch("model.onnx")       # a torch.fx.GraphModule
    loss = module(x).square().mean(); loss.backward()

The module is built by the Torch provider's converters (onyx.providers.torch): one call per
ONNX node, in the spec's semantics; floating-point initializers become trainable parameters,
the others buffers.
"""

from __future__ import annotations

import torch

from onyx.model.loader import ModelSource, load_model
from onyx.providers.torch import build_graph_module

__all__ = ["to_torch"]


def to_torch(model: ModelSource, device: str | torch.device = "cpu") -> torch.fx.GraphModule:
    """``model`` (a path, bytes or ModelProto) as one ``torch.fx.GraphModule`` on ``device``: it
    takes the graph inputs in order and returns the output (a tuple where the graph has several);
    floating-point initializers are its parameters. Raises UnsupportedOperator naming the nodes
    the converters do not handle."""
    loaded = load_model(model)
    module = build_graph_module(loaded.graph, loaded.opset, device, trainable=True)
    if len(loaded.graph.outputs) == 1:
        _return_single(module)
    return module


def _return_single(module: torch.fx.GraphModule) -> None:
    """Make ``module`` return its one output itself rather than a 1-tuple."""
    output = next(node for node in module.graph.nodes if node.op == "output")
    (values,) = output.args
    output.args = (values[0],)
    module.recompile()
