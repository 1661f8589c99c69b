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


class CompiledFunction:
    """A function Numba compiles when a session first prepares a node that uses it
    (``compiled()``), cached on disk by Numba (``cache=True``), releasing the GIL."""

    def __init__(self, fn, signatures: tuple, options: dict):
        self.py_func = fn
        self._signatures = signatures
        self._options = options
        self._dispatcher = None
        functools.update_wrapper(self, fn)

    def compiled(self):
        """The Numba dispatcher, compiled for the declared signatures (imports Numba)."""
        if self._dispatcher is None:
            import numba

            options = {"cache": True, "nogil": True, **self._options}
            jit = numba.njit(list(self._signatures), **options) if self._signatures else numba.njit(**options)
            self._dispatcher = jit(self.py_func)
        return self._dispatcher

    def __call__(self, *args):
        return self.compiled()(*args)


def jit(*signatures, **options):
    """Decorator: ``fn`` compiled with Numba at first use, for ``signatures`` (Numba's type
    strings; none: lazily per argument types) with Numba ``options`` (``parallel``, ...)."""
    return lambda fn: CompiledFunction(fn, signatures, options)
