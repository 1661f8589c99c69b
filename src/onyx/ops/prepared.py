"""Work on constant kernel inputs done once: re-laid-out or augmented copies of weights.

A kernel gets the same initializer arrays, read-only, on every run of a session, so what it
derives from them alone (a transposed weight, a weight with its bias as an extra column) can
be built on the first run and reused. Entries are keyed by the arrays' identities and live
as long as the arrays do (weak references), so they never outlive the session and a new
array reusing an old id never finds a stale entry. Writable arrays (values computed during a
run) are never cached.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

_entries: dict[tuple, tuple[tuple[weakref.ref, ...], Any]] = {}
_lock = threading.Lock()


def prepared(arrays: Sequence[np.ndarray | None], key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, computed once per set of read-only ``arrays`` (None entries allowed) and ``key``."""
    present = [a for a in arrays if a is not None]
    if any(type(a) is not np.ndarray or a.flags.writeable for a in present):
        return build()
    entry_key = (tuple(id(a) for a in arrays), key)
    with _lock:
        entry = _entries.get(entry_key)
    if entry is not None and all(ref() is a for ref, a in zip(entry[0], present)):
        return entry[1]
    value = build()

    def forget(_: weakref.ref) -> None:
        with _lock:
            _entries.pop(entry_key, None)

    with _lock:
        _entries[entry_key] = (tuple(weakref.ref(a, forget) for a in present), value)
    return value
