"""Compiled kernels: the ``[fast]`` extra (Numba).

The CPU provider prepares a node's compiled kernel where one exists, Numba imports and the
session has not asked for the NumPy kernels with the config entry
``session.onyx.compiled_kernels`` = "0". ``import onyx`` stays free of Numba: it is imported
when a session first prepares a node that has a compiled kernel.

How a compiled kernel is written (see onyx/ops/fast/ for examples)::

    @jit("void(float32[::1], float32[::1])")
    def _silu(x, out): ...

    @kernel("Foo", 1, prepare=True)
    def foo(*, _node):
        loop = _silu.compiled() if _node.compiled else None
        if loop is None:
            return named(numpy_foo, "numpy")
        return named(lambda x: ..., "compiled")

* **At session creation, never in a run.** ``jit`` takes the signatures the kernel will be
  called with (inputs typed :func:`readonly`, so that read-only initializers and feeds match); ``compiled()`` compiles them all (or loads them from the disk cache) when the
  kernel is prepared, then closes the function to further compilation: a call with other
  argument types raises TypeError instead of compiling in the middle of a run. A kernel checks
  its inputs' dtypes (and falls back to NumPy) before calling.
* **Disk cache.** Compiled code is kept in a per-user folder, ``compiled/numba-<version>``
  under onyx's cache folder (``platformdirs.user_cache_dir("onyx")``; the environment
  variable ``ONYX_COMPILED_CACHE`` names another). Only onyx's functions use it: Numba's own
  settings (``NUMBA_CACHE_DIR``, ``cache=True`` beside the source, which an installed package
  may not write to) are left as the user has them. Numba writes every cache file to a unique
  temporary name and renames it into place, so processes sharing the folder never read a
  half-written file; two that compile the same function at once both write it, and the
  last one's copy stays. Entries are keyed by the source file's content, the signature,
  the CPU and the Numba and Python versions. A folder that cannot be written to means no
  caching (compiled at each process's first session), not an error.
* **Threads.** The functions release the GIL (``nogil``). Numba's ``parallel=True`` is not
  used: its default thread pool (workqueue) aborts the process when two threads launch
  parallel loops at once, as sessions run from several threads do, and it would be a second
  pool beside the BLAS library's. A kernel splits its work with :func:`parallel_for`
  instead, over the run's intra-op threads (``intra_op_num_threads``, onyx.ops.threads),
  and runs no parallel loop while a BLAS product is running: so a run never has more
  threads busy than it asked for.
* **Numba that does not import** (a version that does not match NumPy's, a broken install):
  one warning, then the NumPy kernels for the rest of the process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from onyx.errors import InvalidArgument

COMPILED_KERNELS_KEY = "session.onyx.compiled_kernels"
COMPILED_KERNELS_ENV = "ONYX_COMPILED_KERNELS"  # the default of sessions without the config entry
CACHE_ENV = "ONYX_COMPILED_CACHE"
NUMPY_KERNEL = "numpy"  # the kernel_name of a callable that does not say

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.RLock()  # one compilation at a time (sessions created in several threads)


@functools.cache
def installed() -> bool:
    """Whether Numba is installed (found, not imported)."""
    return importlib.util.find_spec("numba") is not None


def wanted(config_value: str | None) -> bool:
    """Whether a session whose ``session.onyx.compiled_kernels`` entry is ``config_value``
    (None: not set) uses compiled kernels: "1" or unset where Numba is installed, "0" never.
    Unset, the environment variable ONYX_COMPILED_KERNELS ("0" or "1") gives the default."""
    if config_value is None:
        config_value = os.environ.get(COMPILED_KERNELS_ENV) or None
        if config_value not in (None, "0", "1"):
            raise InvalidArgument(f"{COMPILED_KERNELS_ENV} must be '0' or '1', not '{config_value}'")
    if config_value not in (None, "0", "1"):
        raise InvalidArgument(f"{COMPILED_KERNELS_KEY} must be '0' or '1', not '{config_value}'")
    return config_value != "0" and installed()


@functools.cache
def numba_module() -> Any:
    """Numba, imported; None (after one warning) when it is installed but does not import."""
    try:
        import numba
    except Exception as exc:  # noqa: BLE001 - an ImportError, or whatever a broken install raises
        warnings.warn(f"onyx: Numba is installed but does not import ({type(exc).__name__}: {exc}); "
                      "onyx uses its NumPy kernels", RuntimeWarning, stacklevel=3)
        return None
    return numba


def cache_dir() -> Path:
    """The folder onyx's compiled code is cached in (see the module's notes)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = str(Path(platformdirs.user_cache_dir("onyx")) / "compiled")
    numba = numba_module()
    return Path(root) / f"numba-{numba.__version__ if numba else 'none'}"


def named(fn: F, kernel_name: str) -> F:
    """``fn`` carrying ``kernel_name`` (what ``onyx inspect --providers`` shows for its node)."""
    fn.kernel_name = kernel_name  # type: ignore[attr-defined]
    return fn


def compiled_variant(choose: Callable[..., Any]) -> Callable[[F], F]:
    """Decorator (below ``@kernel``) giving a NumPy kernel a compiled variant: at session
    creation, where compiled kernels are allowed, ``choose(node, numpy_kernel, **attributes)``
    (node: the registry's NodeContext; numpy_kernel: the NumPy kernel with the attributes bound)
    returns the callable the node runs, or None for the NumPy kernel."""

    def mark(fn: F) -> F:
        fn.compiled_choice = choose  # type: ignore[attr-defined]
        return fn

    return mark


def kernel_name(fn: Any) -> str:
    """The name of the kernel a node's callable runs ("numpy" unless it says otherwise)."""
    return getattr(fn, "kernel_name", NUMPY_KERNEL)


class CompiledFunction:
    """A function Numba compiles for its declared signatures when a session first prepares
    a node that uses it (``compiled()``), cached on disk, releasing the GIL."""

    def __init__(self, fn: Callable[..., Any], signatures: tuple[str, ...], options: dict[str, Any]):
        self.py_func = fn
        self.signatures = signatures
        self._options = options
        self._dispatcher: Any = None
        self._ready: set[str] = set()  # the signatures compiled so far
        self._failed = False
        functools.update_wrapper(self, fn)

    def compiled(self, only: str | None = None) -> Any:
        """The Numba dispatcher compiled for the declared signatures (``only``: those naming
        this type, e.g. "float32"; the others can follow in a later call), or None where Numba
        does not import or cannot compile it (warned once)."""
        if self._dispatcher is not None and len(self._ready) == len(self.signatures):
            return self._dispatcher  # every signature compiled: no lock on the run's path
        with _lock:
            if self._failed:
                return None
            try:
                if self._dispatcher is None:
                    self._dispatcher = self._new_dispatcher()
                    if self._dispatcher is None:
                        self._failed = True
                        return None
                for signature in self.signatures:
                    if (only is None or only in signature) and signature not in self._ready:
                        self._dispatcher.disable_compile(False)
                        self._dispatcher.compile(signature)
                        self._ready.add(signature)
            except Exception as exc:  # noqa: BLE001 - a Numba release that types this code differently
                warnings.warn(f"onyx: compiling {self.py_func.__qualname__} failed ({type(exc).__name__}: {exc}); "
                              "its nodes use the NumPy kernels", RuntimeWarning, stacklevel=3)
                self._failed = True
                return None
            finally:
                if self._dispatcher is not None:
                    self._dispatcher.disable_compile()
        return self._dispatcher

    def _new_dispatcher(self) -> Any:
        numba = numba_module()
        if numba is None:
            return None
        dispatcher = numba.njit(nogil=True, **self._options)(_calling_compiled(self.py_func))
        cache = _disk_cache(self.py_func)
        if cache is not None:
            dispatcher._cache = cache  # what cache=True does, with onyx's folder
        return dispatcher

    def __call__(self, *args: Any) -> Any:
        dispatcher = self.compiled()
        if dispatcher is None:
            raise RuntimeError(f"{self.py_func.__qualname__} is not compiled (Numba unavailable)")
        return dispatcher(*args)


class InlinedFunction:
    """A helper that compiled functions call, compiled into each caller for the caller's
    argument types (Numba's ``inline="always"``); not callable from Python."""

    def __init__(self, fn: Callable[..., Any]):
        self.py_func = fn
        self._dispatcher: Any = None
        functools.update_wrapper(self, fn)

    def dispatcher(self) -> Any:
        if self._dispatcher is None:
            self._dispatcher = numba_module().njit(inline="always")(_calling_compiled(self.py_func))
        return self._dispatcher


def inline(fn: Callable[..., Any]) -> InlinedFunction:
    """Decorator: ``fn`` is a helper of compiled functions (see InlinedFunction)."""
    return InlinedFunction(fn)


class NumbaIntrinsic:
    """A Numba intrinsic (LLVM code that compiled functions call), built when a compiled
    function calling it is first compiled: ``build(numba)`` returns the ``@intrinsic``."""

    def __init__(self, build: Callable[[Any], Any]):
        self._build = build
        self._intrinsic: Any = None

    def dispatcher(self) -> Any:
        if self._intrinsic is None:
            self._intrinsic = self._build(numba_module())
        return self._intrinsic


def _calling_compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the compiled and inlined functions it calls (module globals) replaced by
    their Numba dispatchers, so that Numba can compile the calls."""
    callees = {}
    for name in fn.__code__.co_names:
        value = fn.__globals__.get(name)
        if isinstance(value, (InlinedFunction, NumbaIntrinsic)):
            callees[name] = value.dispatcher()
        elif isinstance(value, CompiledFunction):
            callees[name] = value.compiled()
    if not callees:
        return fn
    copy = types.FunctionType(fn.__code__, {**fn.__globals__, **callees}, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    return functools.update_wrapper(copy, fn)


def jit(*signatures: str, **options: Any) -> Callable[[Callable[..., Any]], CompiledFunction]:
    """Decorator: ``fn`` compiled with Numba, at preparation, for ``signatures`` (Numba's type
    strings, at least one) with Numba ``options`` (``fastmath``, ``error_model``, ...)."""
    if not signatures:
        raise TypeError("onyx.compiled.jit needs the signatures to compile at session creation")
    if options.get("parallel") or "cache" in options:
        raise TypeError("onyx.compiled.jit: use parallel_for for threads; the disk cache is onyx's")
    return lambda fn: CompiledFunction(fn, signatures, options)


def readonly(dtype: str, ndim: int) -> str:
    """The signature type of a C-contiguous read-only array (a kernel's inputs: initializers and
    feeds may be read-only, and a writable array converts to it), e.g. ``readonly("float32", 2)``."""
    return f"Array({dtype}, {ndim}, 'C', readonly=True)"


def _disk_cache(py_func: Callable[..., Any]) -> Any:
    """A Numba function cache for ``py_func`` in :func:`cache_dir`, or None where that folder
    cannot be written to."""
    from numba.core import caching

    class Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        def __init__(self, fn: Any, py_file: str):
            self._py_file = py_file
            self._lineno = fn.__code__.co_firstlineno
            self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

        def get_cache_path(self) -> str:
            return self._cache_path

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class Cache(caching.FunctionCache):
        _impl_class = Impl

    try:
        return Cache(py_func)
    except Exception:  # noqa: BLE001 - no locator (the folder cannot be written to), or Numba's caching changed
        return None


def parallel_for(loop: Callable[..., None], total: int, *args: Any, grain: int = 1 << 16) -> None:
    """``loop(start, stop, *args)`` over ``range(total)`` cut into one share per intra-op thread
    of the run (onyx.ops.threads), shares of at least ``grain`` items; one call when the work
    is too small to share. ``loop`` is a compiled function (it releases the GIL)."""
    from onyx.ops import threads

    shares = min(threads.count(), total // grain) if grain > 0 else threads.count()
    if shares <= 1:
        loop(0, total, *args)
        return
    bounds = [total * i // shares for i in range(shares + 1)]
    threads.parallel_map(lambda i: loop(bounds[i], bounds[i + 1], *args), range(shares))
