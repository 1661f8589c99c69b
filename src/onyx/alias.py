"""Running onnxruntime code on onyx unchanged: ``import onnxruntime`` (and its submodules) gives onyx.

``onyx.install_as_onnxruntime()`` puts a finder first on ``sys.meta_path`` for this process;
``onyx exec -- CMD`` does the same in every Python process CMD starts (see onyx.exec). Nothing is
installed on disk, and the real onnxruntime, if present, stays untouched (just not imported).

This module imports only the standard library, so that a process can install the finder at
start-up without importing onyx. The ``onnxruntime`` module it gives holds onyx's public API under onnxruntime's names, with
``__version__`` the onnxruntime API level onyx implements (``onyx.ONNXRUNTIME_API_VERSION``), so
that version gates written for onnxruntime take their current branch; ``onyx_version`` is onyx's.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

ROOT = "onnxruntime"

# onnxruntime module name -> the onyx module that stands in for it ("" : built on demand)
SUBMODULES = {
    ROOT: "",
    "onnxruntime.capi": "onyx.capi",
    "onnxruntime.capi.onnxruntime_pybind11_state": "onyx.capi.onnxruntime_pybind11_state",
    "onnxruntime.capi._pybind_state": "onyx.capi._pybind_state",
    "onnxruntime.capi.onnxruntime_inference_collection": "onyx.capi.onnxruntime_inference_collection",
}


def onnxruntime_module() -> types.ModuleType:
    """A module named onnxruntime holding onyx's public API, versioned as the onnxruntime API it implements."""
    import onyx
    import onyx.capi

    module = types.ModuleType(ROOT, f"onyx {onyx.__version__} standing in for onnxruntime {onyx.ONNXRUNTIME_API_VERSION}.")
    module.__dict__.update({name: getattr(onyx, name) for name in onyx.__all__})
    module.__version__ = module.version = onyx.ONNXRUNTIME_API_VERSION
    module.onyx_version = onyx.__version__
    module.package_name = ROOT
    module.capi = onyx.capi
    module.__file__ = onyx.__file__
    module.__path__ = []  # a package, so that onnxruntime.capi... resolve through the finder
    module.__all__ = list(onyx.__all__)
    return module


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        target = SUBMODULES[spec.name]
        return importlib.import_module(target) if target else onnxruntime_module()

    def exec_module(self, module: types.ModuleType) -> None:
        """The module is complete already."""


class OnnxruntimeFinder(importlib.abc.MetaPathFinder):
    """Resolves onnxruntime and the submodules onyx provides; other onnxruntime submodules
    (quantization, transformers, tools) raise ModuleNotFoundError saying so."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        if fullname not in SUBMODULES:
            raise ModuleNotFoundError(
                f"No module named '{fullname}': onyx stands in for onnxruntime here and does not provide it",
                name=fullname,
            )
        is_package = any(name.startswith(fullname + ".") for name in SUBMODULES)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(), is_package=is_package)


def is_installed() -> bool:
    """Whether ``import onnxruntime`` resolves to onyx in this process."""
    return any(isinstance(finder, OnnxruntimeFinder) for finder in sys.meta_path)


def install_as_onnxruntime() -> None:
    """Make ``import onnxruntime`` and its submodules give onyx in this process, from now on.

    Call it before anything imports onnxruntime. Raises onyx.Fail if the real onnxruntime
    is imported already (code may hold it). Idempotent. Imports nothing of onyx until
    onnxruntime is imported (``onyx exec`` runs it at the start-up of every process)."""
    if is_installed():
        return
    loaded = sys.modules.get(ROOT)
    if loaded is not None and getattr(loaded, "onyx_version", None) is None:
        from onyx.errors import Fail

        raise Fail("onnxruntime is imported already; call onyx.install_as_onnxruntime() before anything imports it")
    sys.meta_path.insert(0, OnnxruntimeFinder())


def uninstall_as_onnxruntime() -> None:
    """Undo :func:`install_as_onnxruntime`: the next ``import onnxruntime`` finds the real one."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, OnnxruntimeFinder)]
    for name in SUBMODULES:
        module = sys.modules.get(name)
        if module is not None and (getattr(module, "onyx_version", None) or module.__name__.startswith("onyx.")):
            del sys.modules[name]
