"""Execution providers. The CPU provider (NumPy kernels) is always there."""

from __future__ import annotations

CPU = "CPUExecutionProvider"


def get_available_providers() -> list[str]:
    """Names of the providers this installation can run, in priority order."""
    return [CPU]


def get_all_providers() -> list[str]:
    """Every provider name onyx knows of, available or not."""
    return [CPU]


def get_device() -> str:
    """The device the default provider runs on, as onnxruntime reports it."""
    return "CPU"
