"""The converter registry: (domain, op type, since-version) -> how one ONNX node becomes one
call in a torch.fx graph.

A converter is a module-level function written from the operator's spec: its inputs are
positional torch tensors (an absent optional input is None), its attributes keyword-only
with the spec's defaults, and it returns a tensor or a tuple of tensors of exactly the types
the spec says. The graph builder calls it through one ``call_function`` node per ONNX node,
so shapes are computed when the module runs (dynamic shapes work) and ``torch.compile``
traces through it.

What a node may be converted is decided at session creation from a ``NodeInfo``: the
registered ``dtypes`` its inputs and outputs must have (torch's numeric types by default),
its attributes (those the function does not take make the node unclaimed) and, when the
converter registers one, a ``prepare`` hook that turns the node into the keyword arguments of
the call (attributes normalized, constant inputs read) or refuses it with None.
"""

from __future__ import annotations

import bisect
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from onyx.model.graph import Node

# the NumPy dtypes whose values torch holds exactly (its own dtypes of the same meaning)
NUMERIC = frozenset(np.dtype(t) for t in (
    np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64))
FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))
SIGNED = frozenset(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64)) | FLOATS
INTEGERS = frozenset(np.dtype(t) for t in (np.uint8, np.int8, np.int16, np.int32, np.int64))
NUMBERS = NUMERIC - {np.dtype(np.bool_)}
BOOL = frozenset({np.dtype(np.bool_)})


@dataclass(frozen=True)
class NodeInfo:
    """What is known of a node at session creation."""

    node: Node
    opset: int  # the model's opset of the node's domain
    input_dtypes: tuple[np.dtype | None, ...]
    output_dtypes: tuple[np.dtype | None, ...]
    constants: tuple[np.ndarray | None, ...]  # per input: its value when it cannot change, else None
    input_ranks: tuple[int | None, ...] = ()

    @property
    def attrs(self) -> dict[str, Any]:
        return self.node.attrs

    def constant(self, index: int) -> np.ndarray | None:
        return self.constants[index] if index < len(self.constants) else None

    def has_input(self, index: int) -> bool:
        return index < len(self.node.inputs) and bool(self.node.inputs[index])

    def rank(self, index: int) -> int | None:
        return self.input_ranks[index] if index < len(self.input_ranks) else None

    @property
    def num_outputs(self) -> int:
        return len(self.node.outputs)


Prepare = Callable[[NodeInfo], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Converter:
    op_type: str
    domain: str
    since: int
    fn: Callable[..., Any]
    attribute_names: frozenset[str]
    dtypes: frozenset[np.dtype]  # allowed dtypes of the checked inputs and of every output
    prepare: Prepare | None = None
    multiple: bool = False  # the function returns a tuple, one entry per node output
    checked: tuple[int, ...] | None = None  # inputs held to ``dtypes`` (None: all); others to NUMERIC

    def call_kwargs(self, info: NodeInfo) -> dict[str, Any] | None:
        """The keyword arguments of the call converting ``info.node``, or None when this
        converter does not convert it exactly (a dtype, attribute or input it does not handle)."""
        for i, (dtype, name) in enumerate(zip(info.input_dtypes, info.node.inputs)):
            allowed = self.dtypes if self.checked is None or i in self.checked else NUMERIC
            if name and (dtype is None or dtype not in allowed):
                return None
        if any(name and (d is None or d not in self.dtypes) for d, name in zip(info.output_dtypes, info.node.outputs)):
            return None
        if self.prepare is not None:
            prepared = self.prepare(info)
            return None if prepared is None else dict(prepared)
        if set(info.attrs) - self.attribute_names:
            return None
        return {key: plain(value) for key, value in info.attrs.items()}


def plain(value: Any) -> Any:
    """An attribute value as an fx literal: lists and Python scalars (arrays become lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def text(value: Any, default: str) -> str:
    """A string attribute (bytes in some models) or ``default`` when absent."""
    value = default if value is None else value
    return value.decode() if isinstance(value, bytes) else value


_CONVERTERS: dict[tuple[str, str], list[tuple[int, Converter]]] = {}
_loaded = False


def converter(op_type: str, since: int | tuple[int, ...] = 1, domain: str = "", dtypes: frozenset = NUMERIC,
              prepare: Prepare | None = None, multiple: bool = False,
              checked: tuple[int, ...] | None = None) -> Callable:
    """Register the decorated function as the converter of ``op_type`` from opset ``since`` on
    (several versions: a tuple); ``dtypes``: the types its inputs and outputs may have;
    ``prepare``: a NodeInfo -> keyword arguments hook (None refuses the node); ``multiple``: it
    returns a tuple of the node's outputs; ``checked``: the inputs ``dtypes`` applies to (the
    others may have any type torch holds)."""

    def register(fn: Callable) -> Callable:
        try:
            params = inspect.signature(fn).parameters.values()
        except ValueError:  # a torch builtin: tensors in, no attributes
            params = ()
        names = frozenset(p.name for p in params if p.kind is p.KEYWORD_ONLY)
        for version in (since if isinstance(since, tuple) else (since,)):
            conv = Converter(op_type, "" if domain == "ai.onnx" else domain, version, fn, names, frozenset(dtypes),
                             prepare, multiple, checked)
            versions = _CONVERTERS.setdefault((conv.domain, op_type), [])
            if any(v == version for v, _ in versions):
                raise ValueError(f"converter {domain or 'ai.onnx'}::{op_type} since {version} registered twice")
            bisect.insort(versions, (version, conv), key=lambda item: item[0])
        return fn

    return register


def load_all() -> None:
    """Import every converter family module (once)."""
    global _loaded
    if _loaded:
        return
    import onyx.providers.torch.converters as package

    for info in pkgutil.iter_modules(package.__path__, prefix=package.__name__ + "."):
        if not info.name.endswith(".registry"):
            importlib.import_module(info.name)
    _loaded = True


def lookup(domain: str, op_type: str, opset: int) -> Converter | None:
    """The newest converter for ``op_type`` whose since-version is <= ``opset``, or None."""
    load_all()
    versions = _CONVERTERS.get(("" if domain == "ai.onnx" else domain, op_type))
    if not versions:
        return None
    index = bisect.bisect_right(versions, opset, key=lambda item: item[0])
    return versions[index - 1][1] if index else None


def registered() -> dict[tuple[str, str], list[int]]:
    """(domain, op type) -> the since-versions registered, for reports."""
    load_all()
    return {key: [v for v, _ in versions] for key, versions in sorted(_CONVERTERS.items())}
