"""glibc malloc tuning, a process-wide opt-in (session config entry
onyx.options.PROCESS_MALLOC_TUNING = "1"): freed buffers kept for reuse.

NumPy allocates arrays with malloc. glibc gives freed memory back to the OS once the free
space at the top of its heap passes a threshold that adapts to the sizes it has seen, so a
run whose buffers of a few hundred KB come and go can pay page faults on every new buffer
(a 3x3 max pool over 192x28x28 floats took 1.05 ms instead of 0.16 ms). onnxruntime keeps
an arena of freed blocks; onyx gets the same effect by setting glibc's mmap threshold to its
maximum (32 MiB) and its trim threshold to 1 GiB, once per process: buffers under 32 MiB are
reused from the heap, larger ones still come from and go back to the OS. Other C libraries
are left alone. glibc cannot report the values these replace, so they stay for the life of
the process and apply to every allocation of the host application: onyx does this only when
asked. The same effect without onyx: start the process with
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824.
"""

from __future__ import annotations

import ctypes
import platform
import threading

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest accepted value on 64-bit systems
TRIM_THRESHOLD_BYTES = 1 << 30

_lock = threading.Lock()
_enabled = False


def enable() -> bool:
    """Switch the arena on for this process (idempotent); False where the C library is not glibc."""
    global _enabled
    with _lock:
        if _enabled:
            return True
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            return False
        mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        _enabled = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
            mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
        return _enabled
