"""Process-wide settings onnxruntime code calls at start-up, with onnxruntime's names."""

from __future__ import annotations

import logging

from onyx.errors import InvalidArgument

ONNXRUNTIME_API_VERSION = "1.32.0"  # the onnxruntime release whose Python API onyx follows

_LOGGER = logging.getLogger("onyx")
# onnxruntime's severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal
_SEVERITY_TO_LEVEL = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR, 4: logging.CRITICAL}


def set_default_logger_severity(severity: int) -> None:
    """Set the level of the 'onyx' logger from onnxruntime's 0-4 severity scale."""
    if severity not in _SEVERITY_TO_LEVEL:
        raise InvalidArgument(f"logger severity must be 0 (verbose) to 4 (fatal), got {severity}")
    _LOGGER.setLevel(_SEVERITY_TO_LEVEL[severity])


def set_default_logger_verbosity(verbosity: int) -> None:
    """Accepted for compatibility: onyx has no verbose-log levels beyond severity."""


def get_build_info() -> str:
    """A one-line description of this build, as onnxruntime.get_build_info() gives."""
    import numpy

    import onyx

    return (
        f"onyx {onyx.__version__} (onnxruntime API {ONNXRUNTIME_API_VERSION}), "
        f"pure Python on NumPy {numpy.__version__}"
    )


def get_version_string() -> str:
    """The onnxruntime version whose Python API onyx implements (onyx's own: onyx.__version__).

    Code that asks onnxruntime for its version gets this, so version gates such as
    ``if ort.get_version_string() < "1.20"`` take their current branch."""
    return ONNXRUNTIME_API_VERSION


def set_seed(seed: int) -> None:
    """Seed the random operators that have no ``seed`` attribute (onnxruntime.set_seed)."""
    from onyx.ops.random import set_seed as seed_random_ops

    seed_random_ops(seed)


def disable_telemetry_events() -> None:
    """Accepted for compatibility: onyx sends no telemetry."""


def enable_telemetry_events() -> None:
    """Accepted for compatibility: onyx sends no telemetry."""


def has_collective_ops() -> bool:
    """Whether collective (multi-device communication) operators are built in: never in onyx."""
    return False


def preload_dlls(cuda: bool = True, cudnn: bool = True, msvc: bool = True, directory: str | None = None) -> None:
    """Accepted for compatibility: onyx loads no native libraries of its own."""
