"""Batch inference over a Ray cluster: ``onyx.ray.predict(dataset, model)`` (needs the
``[ray]`` extra: ``pip install 'onyx-runtime[ray]'``).

``import onyx`` does not import this package, and Ray is imported only when one of the names
below is first used (``onyx.ray.feeds``, the batch conversion, needs only NumPy).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "predict": "onyx.ray.inference",
    "BatchError": "onyx.ray.predictor",
    "SkippedBatch": "onyx.ray.skipped",
    "SkippedBatches": "onyx.ray.skipped",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'onyx.ray' has no attribute '{name}'")
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"onyx.ray needs Ray Data: pip install 'onyx-runtime[ray]' ({exc})") from exc
    return getattr(import_module(_EXPORTS[name]), name)
