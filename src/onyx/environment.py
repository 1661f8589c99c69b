"""Process-wide settings onnxruntime code calls at start-up, with onnxruntime's names."""

from __future__ import annotations

import logging

from onyx.errors import InvalidArgument

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

    return f"onyx {onyx.__version__}, pure Python on NumPy {numpy.__version__}"
