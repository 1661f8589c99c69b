"""The PyTorch execution provider (the ``[torch]`` extra): ONNX partitions as torch.fx
GraphModules on the CPU or CUDA. Importing this package imports torch; ``import onyx`` does not."""

from onyx.providers.torch.graph_module import build_from_calls, build_graph_module
from onyx.providers.torch.provider import TORCH, CUDAExecutionProvider, TorchExecutionProvider

__all__ = ["TORCH", "CUDAExecutionProvider", "TorchExecutionProvider", "build_from_calls", "build_graph_module"]
