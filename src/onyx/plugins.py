"""Kernels from outside onyx: ``@onyx.custom_op``, custom-op modules and installed plugins.

* ``@onyx.custom_op("my.domain", "MyOp", since=1)`` registers a kernel for an operator of
  one's own domain, with the calling convention of onyx's built-in kernels (see
  onyx.ops.registry): inputs positional (optional ones default to None), attributes
  keyword-only with their defaults, NumPy arrays returned (a tuple for several outputs).
  Kernels must be pure functions of their inputs and attributes: onyx may compute a node
  whose inputs are constants once, at session creation.
* ``SessionOptions.register_custom_ops_library(module)``, onnxruntime's call, imports a
  Python module (a name such as ``"my_package.ops"`` or the path of a ``.py`` file) whose
  ``@custom_op`` kernels then serve every session of the process. onnxruntime's native
  shared libraries cannot be loaded by onyx: passing one raises :class:`onyx.InvalidArgument`.
* An installed package can declare entry points in the group ``onyx.kernels``: each names a
  module (imported) or a function (called with no arguments) that registers kernels; onyx
  loads them all before its first session.
* The group ``onyx.providers`` declares execution providers: each entry point names an
  :class:`onyx.providers.ExecutionProvider` subclass, which :func:`load_provider_plugins`
  registers under its ``name`` (``onyx.providers.get_available_providers()`` runs it once, so an
  installed provider is listed there and usable in ``providers=[...]``), or a module that
  registers providers itself when imported (``@onyx.providers.register_provider``).

A plugin that fails to load is skipped with a warning naming it: it never breaks ``import onyx``
or a session.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onyx.errors import InvalidArgument

KERNELS_GROUP = "onyx.kernels"
PROVIDERS_GROUP = "onyx.providers"
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
NATIVE_LIBRARY_SUFFIXES = (".so", ".dll", ".dylib")


_custom: set[tuple[str, str, int]] = set()  # (domain, op type, since) registered by custom_op


def is_custom(domain: str, op_type: str, since: int) -> bool:
    """True for a kernel registered through custom_op (not one onyx ships)."""
    return (domain, op_type, since) in _custom


def custom_op(domain: str, op_type: str, since: int = 1) -> Callable[[Callable], Callable]:
    """Register the decorated function as the kernel of ``domain::op_type`` from opset ``since`` on."""
    from onyx.ops import registry

    if domain in STANDARD_DOMAINS:
        raise InvalidArgument(f"custom_op: '{domain or 'ai.onnx'}' is a standard ONNX domain; "
                              "custom operators need a domain of their own, such as 'com.example'")
    if not isinstance(since, int) or since < 1:
        raise InvalidArgument(f"custom_op {domain}::{op_type}: since must be an opset version >= 1, not {since!r}")

    def register(fn: Callable) -> Callable:
        try:
            registry.kernel(op_type, since, domain)(fn)
        except ValueError as exc:
            raise InvalidArgument(f"custom_op: {exc}") from None
        _custom.add((registry.normalize_domain(domain), op_type, since))
        return fn

    return register


def load_custom_ops_library(library: str | Path) -> None:
    """Import the Python module ``library`` (a module name or a ``.py`` file) that registers kernels."""
    text = str(library)
    if text.lower().endswith(NATIVE_LIBRARY_SUFFIXES) or ".so." in Path(text).name:
        raise InvalidArgument(
            f"'{text}' is a native custom-op library; onyx runs Python kernels only. Pass a Python "
            "module (a name such as 'my_package.ops' or a .py file) whose kernels are registered "
            "with @onyx.custom_op(domain, op_type, since=...)")
    try:
        if text.endswith(".py"):
            _import_file(Path(text))
        else:
            importlib.import_module(text)
    except ModuleNotFoundError as exc:
        if exc.name and (text == exc.name or text.startswith(exc.name + ".")):
            raise InvalidArgument(f"custom-op module '{text}' cannot be found (neither a module "
                                  "on sys.path nor a .py file)") from None
        raise InvalidArgument(f"custom-op module '{text}' failed to import: {exc}") from exc
    except InvalidArgument:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module: name it and what it raised
        raise InvalidArgument(f"custom-op module '{text}' failed to import: {type(exc).__name__}: {exc}") from exc


def _import_file(path: Path) -> None:
    if not path.is_file():
        raise InvalidArgument(f"custom-op module file '{path}' does not exist")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"onyx_custom_ops_{path.stem}_{digest}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def load_kernel_plugins() -> list[str]:
    """Load every ``onyx.kernels`` entry point; returns the names of those that loaded.

    A plugin that fails to load is skipped with a warning naming it, so that one broken
    package does not stop every session.
    """
    from importlib.metadata import entry_points  # here, not at the top: it costs `import onyx` ~20 ms

    loaded = []
    for entry in entry_points(group=KERNELS_GROUP):
        try:
            target = entry.load()
            if callable(target):
                target()
        except Exception as exc:  # noqa: BLE001 - someone else's package: report, go on
            warnings.warn(f"onyx: kernel plugin '{entry.name}' ({entry.value}) failed to load: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        loaded.append(entry.name)
    return loaded


def discover_providers() -> dict[str, Any]:
    """The objects that installed packages declare in the ``onyx.providers`` entry-point group,
    by entry-point name (those that fail to load are skipped with a warning)."""
    from importlib.metadata import entry_points

    found = {}
    for entry in entry_points(group=PROVIDERS_GROUP):
        try:
            found[entry.name] = entry.load()
        except Exception as exc:  # noqa: BLE001 - someone else's package: report, go on
            _warn_provider(entry.name, f"({entry.value}) failed to load: {type(exc).__name__}: {exc}")
    return found


def load_provider_plugins() -> list[str]:
    """Register the execution providers installed packages declare (``onyx.providers`` entry
    points); returns the names of the providers registered. One that is not an ExecutionProvider
    subclass, or whose name is taken by a provider onyx has, is skipped with a warning."""
    import types

    from onyx import providers

    registered = []
    for entry_name, target in discover_providers().items():
        if isinstance(target, types.ModuleType):
            continue  # its import registered what it provides
        if not (isinstance(target, type) and issubclass(target, providers.ExecutionProvider)):
            _warn_provider(entry_name, f"names {target!r}, not an onyx.providers.ExecutionProvider subclass")
            continue
        if target.name in providers.built_in_providers():
            _warn_provider(entry_name, f"declares '{target.name}', the name of a provider onyx has")
            continue
        try:
            providers.register_provider(target)
        except ValueError as exc:
            _warn_provider(entry_name, str(exc))
            continue
        registered.append(target.name)
    return registered


def _warn_provider(entry_name: str, problem: str) -> None:
    warnings.warn(f"onyx: provider plugin '{entry_name}' {problem}; skipped", RuntimeWarning, stacklevel=3)
