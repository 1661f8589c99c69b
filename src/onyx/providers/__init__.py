"""Execution providers: who runs which node (see onyx.providers.base for the protocol).

The CPU provider (NumPy kernels) is always there and always last. Other providers are
registered by name with ``register_provider``, or declared by installed packages in the
``onyx.providers`` entry-point group (onyx.plugins: loaded at the first call of
``get_available_providers``); a session lists the ones it wants, in order.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from onyx.providers.base import HOST, ExecutionProvider, Partition
from onyx.providers.cpu import CPU, CPUProvider

__all__ = [
    "CPU", "HOST", "CPUProvider", "ExecutionProvider", "Partition", "create_providers", "get_all_providers",
    "get_available_providers", "get_device", "register_provider", "unregister_provider", "built_in_providers",
]

_REGISTERED: dict[str, type[ExecutionProvider]] = {CPU: CPUProvider}

# providers that ship with onyx but need an optional package: name -> (module, class, package);
# available when the package is installed (CUDA: and sees a GPU), imported when a session asks for them
_OPTIONAL: dict[str, tuple[str, str, str]] = {
    "CUDAExecutionProvider": ("onyx.providers.torch", "CUDAExecutionProvider", "torch"),
    "TorchExecutionProvider": ("onyx.providers.torch", "TorchExecutionProvider", "torch"),
}


def _optional_available(name: str, package: str) -> bool:
    if importlib.util.find_spec(package) is None:
        return False
    return name != "CUDAExecutionProvider" or _cuda_usable()


def _cuda_usable() -> bool:
    """Whether torch can run on a CUDA device; asked of torch only once something imported it
    (a session creation should not pay for importing torch): until then, whether this torch
    build has CUDA and the machine an NVIDIA device."""
    import os
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    if not os.path.exists("/dev/nvidiactl"):
        return False
    spec = importlib.util.find_spec("torch")
    version = os.path.join(os.path.dirname(spec.origin), "version.py") if spec and spec.origin else ""
    try:
        with open(version, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False
    return not any(line.startswith("cuda") and line.rstrip().endswith("= None") for line in text.splitlines())


_plugins_lock = threading.RLock()  # a plugin may ask for the providers while it loads
_plugins_loaded = False  # the providers installed packages declare are registered once, on first use


def register_provider(cls: type[ExecutionProvider]) -> type[ExecutionProvider]:
    """Make ``cls`` available to sessions under ``cls.name`` (usable as a class decorator)."""
    if not cls.name or cls.name == CPU:
        raise ValueError(f"a provider needs a name other than '{CPU}'")
    _REGISTERED[cls.name] = cls
    return cls


def unregister_provider(name: str) -> None:
    """Forget the provider registered as ``name`` (the CPU provider stays)."""
    if name != CPU:
        _REGISTERED.pop(name, None)


def built_in_providers() -> list[str]:
    """Names of the providers that ship with onyx (CPU and those needing an optional package)."""
    return [CPU, *_OPTIONAL]


def get_available_providers() -> list[str]:
    """Names of the providers this installation can run, in priority order (CPU last); the first
    call registers the providers installed packages declare (onyx.plugins)."""
    if not _plugins_loaded:
        _load_plugins()
    optional = [name for name, (_, _, package) in _OPTIONAL.items()
                if name not in _REGISTERED and _optional_available(name, package)]
    return [name for name in _REGISTERED if name != CPU] + optional + [CPU]


def _load_plugins() -> None:
    global _plugins_loaded
    from onyx.plugins import load_provider_plugins

    with _plugins_lock:
        if _plugins_loaded:
            return
        try:
            load_provider_plugins()
        except Exception as exc:  # noqa: BLE001 - broken package metadata must not stop a session
            warnings.warn(f"onyx: provider plugins could not be listed: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=3)
        _plugins_loaded = True


def _provider_class(name: str) -> type[ExecutionProvider]:
    if name not in _REGISTERED and name in _OPTIONAL:
        module, cls, _ = _OPTIONAL[name]
        _REGISTERED[name] = getattr(importlib.import_module(module), cls)
    return _REGISTERED[name]


# every provider name onnxruntime knows (its get_all_providers()), most preferred first
_ONNXRUNTIME_PROVIDERS = [
    "TensorrtExecutionProvider", "CUDAExecutionProvider", "MIGraphXExecutionProvider",
    "OpenVINOExecutionProvider", "DnnlExecutionProvider", "VitisAIExecutionProvider",
    "QNNExecutionProvider", "NnapiExecutionProvider", "VSINPUExecutionProvider",
    "JsExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider",
    "RknpuExecutionProvider", "WebNNExecutionProvider", "WebGpuExecutionProvider",
    "XnnpackExecutionProvider", "CANNExecutionProvider", "AzureExecutionProvider", CPU,
]  # fmt: skip


def get_all_providers() -> list[str]:
    """Every provider name onyx knows of, available or not: onnxruntime's names (code checks
    them) and onyx's own. Asking a session for one that is not available warns and falls back."""
    return _ONNXRUNTIME_PROVIDERS + [p for p in get_available_providers() if p not in _ONNXRUNTIME_PROVIDERS]


def get_device() -> str:
    """"GPU" where the Torch provider can run on CUDA (PyTorch sees a GPU), else "CPU", as
    onnxruntime's packages report their device."""
    from onyx import devices

    return "GPU" if "TorchExecutionProvider" in get_available_providers() and devices.cuda_usable() else "CPU"


def create_providers(names: Sequence[str], options: Sequence[Mapping[str, Any]],
                     compiled_kernels: bool = False) -> list[ExecutionProvider]:
    """Provider instances for registered ``names`` with their ``options``, the CPU provider last
    (with compiled kernels where ``compiled_kernels``)."""
    created = [_provider_class(name)(opts) for name, opts in zip(names, options) if name != CPU]
    cpu_options = next((opts for name, opts in zip(names, options) if name == CPU), None)
    return created + [CPUProvider(cpu_options, compiled_kernels)]
