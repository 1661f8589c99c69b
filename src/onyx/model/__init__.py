"""Loading ONNX models into onyx's graph IR."""

from onyx.model.graph import Function, Graph, Model, Node, ValueInfo
from onyx.model.loader import load_model

__all__ = ["Function", "Graph", "Model", "Node", "ValueInfo", "load_model"]
