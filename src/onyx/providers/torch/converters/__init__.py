"""Converters from ONNX operators to PyTorch, one module per operator family; the registry
(``registry.py``) finds the one for a node's domain, op type and opset."""

from onyx.providers.torch.converters.registry import NodeInfo, converter, lookup, registered

__all__ = ["NodeInfo", "converter", "lookup", "registered"]
