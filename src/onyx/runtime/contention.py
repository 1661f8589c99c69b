"""How many CPUs other processes keep busy, so that a run does not count on them.

A run's BLAS products split their work evenly over the BLAS library's threads, and
OpenBLAS's threads spin for a while after each product, waiting for the next. When another
process keeps a CPU busy, the thread sharing that CPU finishes its part late, every product
waits for it, and the spinning threads take turns with the run's own thread: measured on
SqueezeNet with the two CPUs of this project's machines crowded by other work, a run took
2.3-3.2 s with two BLAS threads and 0.40-0.49 s with one (onnxruntime: 0.24 s either way).
So a session left at intra_op_num_threads=0 that asks for it (session config entry
onyx.options.ADAPT_THREADS_TO_LOAD = "1") uses only the CPUs that other processes leave free
(at least one), which changes nothing on an idle machine. It is not the default because
results then depend on the machine's load: BLAS products on one thread sum in another order
than on two, which moves the last bits (and flips the light SqueezeNet's softmax over logits
that are equal only up to float32 steps, a backend-suite test).

The estimate is the CPU time all processes used on the CPUs this process may run on (Linux's
/proc/stat, per CPU) less this process's own, over the time since the last estimate, taken at most every SAMPLE_SECONDS; elsewhere, and
where /proc/stat cannot be read, no CPU counts as busy.
"""

from __future__ import annotations

import os
import threading
import time

SAMPLE_SECONDS = 0.05
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class OtherProcessesLoad:
    """A running estimate of the CPUs other processes keep busy."""

    def __init__(self, stat_path: str = "/proc/stat"):
        self._stat_path = stat_path
        self._lock = threading.Lock()
        self._last: tuple[float, float, float] | None = None  # (wall, busy CPU s of all, CPU s of this process)
        self._busy = 0.0

    def _sample(self) -> tuple[float, float, float] | None:
        """(now, busy CPU seconds of the CPUs this process may use, this process's CPU seconds)."""
        try:
            with open(self._stat_path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        busy = 0
        for line in lines:
            fields = line.split()
            if len(fields) < 6 or not fields[0].startswith(b"cpu") or fields[0] == b"cpu":
                continue
            if mine is not None and int(fields[0][3:]) not in mine:
                continue
            ticks = [int(v) for v in fields[1:9]]
            busy += sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
        return time.monotonic(), busy / _TICKS_PER_SECOND, time.process_time()

    def busy_cpus(self) -> float:
        """CPUs (a fraction of one at most per CPU) that other processes used lately."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < SAMPLE_SECONDS:
                return self._busy
            sample = self._sample()
            if sample is None:
                return 0.0
            if self._last is not None:
                wall = sample[0] - self._last[0]
                others = (sample[1] - self._last[1]) - (sample[2] - self._last[2])
                self._busy = max(0.0, others / wall)
            self._last = sample
            return self._busy


_load = OtherProcessesLoad()


def free_cpus(usable: int) -> int:
    """Of ``usable`` CPUs, how many other processes leave free (at least one)."""
    return max(1, min(usable, usable - round(_load.busy_cpus())))
