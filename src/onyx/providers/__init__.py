"""Execution providers. The CPU provider (NumPy kernels) is always there."""

from __future__ import annotations

CPU = "CPUExecutionProvider"


def get_available_providers() -> list[str]:
    """Names of the providers this installation can run, in priority order."""
    return [CPU]


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
    """The device the default provider runs on, as onnxruntime reports it."""
    return "CPU"
