"""Compiled kernels: the ``[fast]`` extra (Numba).

The CPU provider prepares a node's compiled kernel where one exists, Numba imports and the
session has not asked for the NumPy kernels with the config entry
``session.onyx.compiled_kernels`` = "0". Nothing here imports Numba: ``import onyx`` stays
free of it, and a kernel imports it when it compiles, at session creation.
"""

from __future__ import annotations

import functools
import importlib.util

from onyx.errors import InvalidArgument

COMPILED_KERNELS_KEY = "session.onyx.compiled_kernels"


@functools.cache
def installed() -> bool:
    """Whether Numba is installed (found, not imported)."""
    return importlib.util.find_spec("numba") is not None


def wanted(config_value: str | None) -> bool:
    """Whether a session whose ``session.onyx.compiled_kernels`` entry is ``config_value``
    (None: not set) uses compiled kernels: "1" or unset where Numba is installed, "0" never."""
    if config_value not in (None, "0", "1"):
        raise InvalidArgument(f"{COMPILED_KERNELS_KEY} must be '0' or '1', not '{config_value}'")
    return config_value != "0" and installed()
