"""The kernel registry: (domain, op type, since-version) -> kernel function.

A kernel is a plain function whose signature is the operator's spec: inputs
positional (optional ones default to None), attributes keyword-only with the
spec's defaults. Two reserved keyword-only parameters ask the executor for
context it would not otherwise pass:

* ``_num_outputs``: how many outputs the node declares (Split, Dropout, TopK...).
* ``_outer``: a mapping of the outer-scope values the node's subgraphs read
  (If, Loop, Scan).

A kernel registered with ``prepare=True`` does its per-node work once: it takes the
attributes only (keyword-only, as above) and returns the callable that each run calls with
the inputs (a forest compiled from tree attributes, support vectors laid out). The plan
calls it once per node at session creation. A preparing kernel that also declares the
keyword-only ``_node`` receives a ``NodeContext``: its constant inputs (weights to re-lay out),
its inputs' declared types (to choose an algorithm for the geometry) and whether compiled
kernels (the ``[fast]`` extra, onyx.compiled) may be used.

A kernel decorated with ``onyx.compiled.compiled_variant(choose)`` (below ``@kernel``) is
registered as a preparing kernel: at session creation ``choose(node, numpy_kernel, **attributes)``
may return a compiled callable for the node (``numpy_kernel``: the NumPy kernel with the
attributes bound, for the inputs the compiled one does not cover), and otherwise the node runs the decorated NumPy function,
which stays an ordinary function for the code that calls it directly.

One function serves every opset version whose semantics it covers:
``@kernel("Relu", since=(1, 6, 13, 14))`` registers it once per listed version. For an operator
onnx has a schema of (``onnx.defs``), each version's registration accepts the attributes that
version's schema declares, no others: a keyword-only parameter that a later version added
(GatherND's ``batch_dims``) keeps its default, which must be the earlier versions' semantics, and
a node of an earlier version that sets it is refused. The opset-1 ``consumed_inputs`` hint
(``LEGACY_HINTS``) is accepted where the schema declares it and never reaches the kernel. A version
whose semantics differ (an attribute that became an input, another default) has a kernel of its own.
tests/ops/test_schemas.py checks names and defaults against the schemas for every version.

A model gets, per node, the newest registration whose since-version is <= the
model's opset for that domain.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import onnx.defs

DEFAULT_DOMAIN = ""
_DOMAIN_ALIASES = {"ai.onnx": DEFAULT_DOMAIN}
# attributes old schemas declare that change no result; accepted where declared, not passed on
LEGACY_HINTS = frozenset({"consumed_inputs"})  # opsets 1-5: which inputs an in-place kernel may reuse


def normalize_domain(domain: str) -> str:
    """'' and 'ai.onnx' are the same domain."""
    return _DOMAIN_ALIASES.get(domain, domain)


@dataclass(frozen=True)
class NodeContext:
    """What a preparing kernel asking for ``_node`` knows of its node at session creation."""

    constants: tuple[Any, ...] = ()  # per input: its initializer (read-only) when constant, else None
    input_types: tuple[Any, ...] = ()  # per input: its declared onnx TypeProto, or None
    compiled: bool = False  # compiled kernels (onyx.compiled) may be used for this node

    def constant(self, index: int) -> Any:
        """The constant value of input ``index``, or None (absent, computed or fed)."""
        return self.constants[index] if index < len(self.constants) else None


@dataclass(frozen=True)
class KernelDef:
    """One registered kernel and what its signature asks for."""

    op_type: str
    domain: str
    since: int
    fn: Callable[..., Any]
    attribute_names: frozenset[str]
    accepts_any_attribute: bool
    wants_num_outputs: bool
    wants_outer: bool
    prepare: bool = False
    wants_node: bool = False
    ignored_attributes: frozenset[str] = frozenset()  # legacy hints this version accepts and drops

    def bind(self, attrs: dict[str, Any], node: NodeContext | None = None) -> Callable[..., Any]:
        """The callable a node runs: the kernel with ``attrs`` bound, or what a preparing kernel
        returns for them (and for ``node``, when it asks for it)."""
        if self.ignored_attributes:
            attrs = {k: v for k, v in attrs.items() if k not in self.ignored_attributes}
        if self.prepare:
            if self.wants_node:
                return self.fn(**attrs, _node=node or NodeContext())
            return self.fn(**attrs)
        return functools.partial(self.fn, **attrs) if attrs else self.fn


# {(domain, op_type): sorted list of (since, KernelDef)}
_KERNELS: dict[tuple[str, str], list[tuple[int, KernelDef]]] = {}
_loaded = False


def kernel(op_type: str, since: int | tuple[int, ...], domain: str = DEFAULT_DOMAIN,
           prepare: bool = False) -> Callable:
    """Register the decorated function as the kernel of ``op_type`` from opset ``since`` on, or
    from each version of a tuple of them (``prepare``: it takes the attributes and returns the
    per-run callable)."""
    versions = (since,) if isinstance(since, int) else tuple(since)

    def register(fn: Callable) -> Callable:
        choose = getattr(fn, "compiled_choice", None)
        if choose is not None:
            if prepare:
                raise ValueError(f"kernel {domain or 'ai.onnx'}::{op_type}: a compiled variant of a preparing kernel")
            kernel(op_type, since, domain, prepare=True)(_with_compiled_variant(fn, choose))
            return fn
        params = _parameters(fn)
        keyword_only = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        attributes = frozenset(n for n in keyword_only if not n.startswith("_"))
        if "_node" in keyword_only and not prepare:
            raise ValueError(f"kernel {domain or 'ai.onnx'}::{op_type}: only a preparing kernel takes _node")
        for version in versions:
            declared = schema_attributes(normalize_domain(domain), op_type, version)
            ignored = frozenset() if declared is None else (declared & LEGACY_HINTS) - attributes
            _add(KernelDef(
                op_type=op_type,
                domain=normalize_domain(domain),
                since=version,
                fn=fn,
                attribute_names=(attributes if declared is None else attributes & declared) | ignored,
                accepts_any_attribute=any(p.kind is p.VAR_KEYWORD for p in params),
                wants_num_outputs="_num_outputs" in keyword_only,
                wants_outer="_outer" in keyword_only,
                prepare=prepare,
                wants_node="_node" in keyword_only,
                ignored_attributes=ignored,
            ))
        return fn

    return register


def _with_compiled_variant(fn: Callable, choose: Callable) -> Callable:
    """The preparing kernel of NumPy kernel ``fn`` with compiled variant ``choose`` (see the notes above)."""

    def prepare(**attrs: Any) -> Callable[..., Any]:
        node = attrs.pop("_node")
        numpy_kernel = functools.partial(fn, **attrs) if attrs else fn
        chosen = choose(node, numpy_kernel, **attrs) if node.compiled else None
        return numpy_kernel if chosen is None else chosen

    params = [p for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    params.append(inspect.Parameter("_node", inspect.Parameter.KEYWORD_ONLY))
    functools.update_wrapper(prepare, fn, updated=())
    prepare.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return prepare


def _parameters(fn: Callable) -> tuple[inspect.Parameter, ...]:
    """The parameters of a kernel; a NumPy ufunc takes inputs only (its keywords, such as
    ``where`` or ``dtype``, are NumPy's options, not attributes)."""
    if isinstance(fn, np.ufunc):
        return ()
    try:
        return tuple(inspect.signature(fn).parameters.values())
    except ValueError:  # a builtin without a signature: inputs only
        return ()


def _add(kdef: KernelDef) -> None:
    versions = _KERNELS.setdefault((kdef.domain, kdef.op_type), [])
    if any(v == kdef.since for v, _ in versions):
        raise ValueError(f"kernel {kdef.domain or 'ai.onnx'}::{kdef.op_type} since {kdef.since} registered twice")
    bisect.insort(versions, (kdef.since, kdef), key=lambda item: item[0])


@functools.cache
def schema_attributes(domain: str, op_type: str, version: int) -> frozenset[str] | None:
    """The attribute names of the version of ``op_type``'s onnx schema that opset ``version``
    introduced, or None when the installed onnx has none (a custom domain, com.microsoft, a
    version newer than onnx): the kernel's own parameters then stand."""
    try:
        schema = onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None
    return frozenset(schema.attributes) if schema.since_version == version else None


def load_all_kernels() -> None:
    """Import every kernel module under onyx.ops, then the kernels installed packages declare
    in the ``onyx.kernels`` entry-point group (done once, at the first session)."""
    global _loaded
    if _loaded:
        return
    import onyx.ops as package

    for info in pkgutil.walk_packages(package.__path__, prefix="onyx.ops."):
        if info.name != __name__:
            importlib.import_module(info.name)
    _loaded = True
    from onyx.plugins import load_kernel_plugins  # installed packages' kernels (entry points)

    load_kernel_plugins()


def lookup(domain: str, op_type: str, opset: int) -> KernelDef | None:
    """The newest kernel for ``op_type`` whose since-version is <= ``opset``, or None."""
    load_all_kernels()
    versions = _KERNELS.get((normalize_domain(domain), op_type))
    if not versions:
        return None
    index = bisect.bisect_right(versions, opset, key=lambda item: item[0])
    return versions[index - 1][1] if index else None


def registered_ops() -> list[tuple[str, str, int]]:
    """(domain, op_type, since) of every registered kernel, sorted."""
    load_all_kernels()
    return sorted((d, op, since) for (d, op), versions in _KERNELS.items() for since, _ in versions)


def registered_kernels() -> list[KernelDef]:
    """Every registered kernel (built-in and plugins'), sorted by domain, op type and version."""
    load_all_kernels()
    return [kdef for key in sorted(_KERNELS) for _, kdef in _KERNELS[key]]
