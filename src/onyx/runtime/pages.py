"""Session creation with regular pages, not transparent huge pages: a process-wide opt-in
(session config entry onyx.options.PROCESS_REGULAR_PAGES = "1").

NumPy asks Linux for transparent huge pages (madvise) on every array of 4 MB and more. Where
the kernel's THP defrag policy is "madvise" (the default of many distributions), a fault in
such an array may stall on memory compaction: on this project's virtual machines a fresh
240 MB array took 200-500 ms to fill with the hint and 80 ms without it, and creating
VGG-19's session (550 MB of weights) 0.7-0.8 s instead of 0.19 s. Runs measured the same
with weights on either kind of page, so the hint is switched off only while a session is
created, and restored after. NumPy's setting is process-wide: large arrays other threads
allocate meanwhile get no hint either, which is why onyx leaves it alone unless asked.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

_lock = threading.Lock()
_creating = 0  # sessions being created now, in any thread
_saved = True  # NumPy's setting before the first of them began


def _hint_setter():
    """NumPy's switch for the huge-page hint (returns the previous setting), where it has one."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)  # NumPy 2 / NumPy 1
    return getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)


@contextlib.contextmanager
def regular_pages() -> Iterator[None]:
    """Arrays allocated inside the block get no huge-page hint; NumPy's setting is restored after."""
    global _creating, _saved
    setter = _hint_setter()
    if setter is None:
        yield
        return
    with _lock:
        if _creating == 0:
            _saved = setter(False)
        _creating += 1
    try:
        yield
    finally:
        with _lock:
            _creating -= 1
            if _creating == 0:
                setter(_saved)
