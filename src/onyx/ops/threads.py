"""Intra-op threads: a kernel's independent parts of work run side by side.

NumPy releases the GIL inside its loops, so a kernel whose work splits into parts that each
run long NumPy operations (tree walks over groups of trees) finishes sooner on several threads.
Not where BLAS products come just before: OpenBLAS's workers spin-wait on the other cores for a
while after each product, and im2col copies or a bidirectional GRU's two directions split over
threads there measured no faster, or slower. How many threads: the session's
``intra_op_num_threads`` (0: one per CPU the process may use), set around each run with
:func:`limit`; the session limits the BLAS library's own threads to the same number with
:func:`limit_blas`, which restores the process's setting once the last limited run ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

_requested = contextvars.ContextVar("onyx_intra_op_threads", default=0)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_worker = threading.local()
_blas_lock = threading.Lock()
_blas_requests: list[int] = []  # the limits of the runs now inside limit_blas
_blas_before: Any = None  # threadpoolctl's record of the BLAS settings from before the first of them


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def count() -> int:
    """Threads a kernel may use in the current run (at least 1)."""
    return _requested.get() or usable_cpus()


class limit:  # noqa: N801 - used as a function: ``with limit(2):``
    """Kernels called inside use ``threads`` threads (0: one per CPU). A class rather than a
    generator context manager: every run enters one, and this costs a third as much."""

    __slots__ = ("_threads", "_token")

    def __init__(self, threads: int):
        self._threads = max(0, int(threads))

    def __enter__(self) -> None:
        self._token = _requested.set(self._threads)

    def __exit__(self, *exc: object) -> None:
        _requested.reset(self._token)


@contextlib.contextmanager
def limit_blas(controller: Any, threads: int) -> Iterator[None]:
    """The BLAS libraries (found by threadpoolctl's ``controller``) use at most ``threads``
    threads inside the block.

    The setting is process-wide, so overlapping blocks (runs in several threads) share it: the
    smallest limit asked for holds while they overlap, and the last block to end restores the
    setting the process had before the first began.
    """
    global _blas_before
    with _blas_lock:
        if not _blas_requests:
            _blas_before = controller.limit(limits=threads, user_api="blas")
        elif threads < min(_blas_requests):
            controller.limit(limits=threads, user_api="blas")
        _blas_requests.append(threads)
    try:
        yield
    finally:
        with _blas_lock:
            before = min(_blas_requests)
            _blas_requests.remove(threads)
            if not _blas_requests:
                _blas_before.restore_original_limits()
                _blas_before = None
            elif min(_blas_requests) != before:
                controller.limit(limits=min(_blas_requests), user_api="blas")


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, grown to at least ``workers`` threads."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            old, _pool = _pool, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="onyx-intra-op")
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _as_worker(fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    _worker.active = True
    try:
        return [fn(item) for item in items]
    finally:
        _worker.active = False


def parallel_map(fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    """``[fn(item) for item in items]``, the items shared in order among the run's threads.

    The calling thread takes the first share. Work submitted from inside a share runs serially,
    so shares never wait on each other.
    """
    threads = min(count(), len(items))
    if threads <= 1 or getattr(_worker, "active", False):
        return [fn(item) for item in items]
    bounds = [len(items) * i // threads for i in range(threads + 1)]
    shares = [items[bounds[i] : bounds[i + 1]] for i in range(threads)]
    pool = _executor(threads - 1)
    futures = [pool.submit(_as_worker, fn, share) for share in shares[1:]]
    try:
        results = _as_worker(fn, shares[0])
    finally:
        wait(futures)  # the shares may write into a shared output
    for future in futures:
        results.extend(future.result())
    return results
