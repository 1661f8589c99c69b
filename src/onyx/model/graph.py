"""onyx's graph IR: what the loader produces and the planner and optimizer consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import TypeProto

from onyx.model.types import np_dtype, shape_of, type_string


@dataclass
class ValueInfo:
    """A named value with its declared ONNX type (which may be absent)."""

    name: str
    type: TypeProto | None = None

    @property
    def type_str(self) -> str:
        return type_string(self.type) if self.type is not None else "unknown"

    @property
    def shape(self) -> list[int | str | None] | None:
        return shape_of(self.type) if self.type is not None else None

    @property
    def is_tensor(self) -> bool:
        return self.type is not None and self.type.WhichOneof("value") == "tensor_type"

    @property
    def dtype(self) -> np.dtype | None:
        """NumPy dtype of a tensor value; None for other kinds or unknown types."""
        if not self.is_tensor or self.type.tensor_type.elem_type == 0:
            return None
        return np_dtype(self.type.tensor_type.elem_type)


@dataclass(frozen=True)
class AttributeRef:
    """An attribute inside a function body that takes the caller's attribute ``name``."""

    name: str


@dataclass
class Node:
    """One operator application. ``attrs`` hold Python values (numbers, str, arrays, Graphs)."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    name: str = ""
    proto: Any = None  # the NodeProto it came from, when loaded from a file

    def describe(self) -> str:
        """'node "conv1" (Conv)' for error messages."""
        return f'node "{self.name}" ({self.op_type})' if self.name else f"unnamed {self.op_type} node"


@dataclass
class Graph:
    """A graph or subgraph. Initializers are NumPy arrays (read-only when loaded from the model)."""

    name: str
    nodes: list[Node]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: dict[str, Any] = field(default_factory=dict)
    value_info: dict[str, ValueInfo] = field(default_factory=dict)
    doc_string: str = ""


@dataclass
class Function:
    """A model-local function: a body of nodes run with the caller's inputs and attributes."""

    name: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    attribute_defaults: dict[str, Any]
    nodes: list[Node]
    opset: dict[str, int]


@dataclass
class Model:
    """A loaded model: the main graph plus what surrounds it."""

    graph: Graph
    opset: dict[str, int]
    functions: dict[tuple[str, str], Function] = field(default_factory=dict)
    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    doc_string: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    source: str = "<bytes>"
