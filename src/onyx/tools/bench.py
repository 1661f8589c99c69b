"""Timing sessions: warm-up, then alternating runs so that two runtimes see the same noise."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Latencies in seconds of one runner."""

    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def throughput(self) -> float:
        """Runs per second at the median latency."""
        return 1.0 / self.median if self.median > 0 else float("inf")


def alternate(
    runners: dict[str, Callable[[], Any]],
    *,
    warmup: int = 3,
    runs: int = 20,
    budget_s: float | None = None,
    progress: Callable[[int], None] | None = None,
    settle_s: float = 0.0,
    rewarm_s: float = 0.1,
) -> dict[str, Timing]:
    """Time each runner up to ``runs`` times, interleaving them; with ``budget_s``, stop once
    that many seconds have passed (after at least three rounds).

    ``settle_s`` is an idle pause before each timed run, so that threads one runtime leaves
    spin-waiting (onnxruntime's pool, OpenBLAS's workers) have gone to sleep and do not take
    the cores the other runtime's next run needs. Untimed runs of the same runner follow the
    pause for ``rewarm_s`` seconds (at least one run): after an idle pause, threads woken on a
    busy core stay there for about 50 ms (a tree ensemble on two threads ran at one thread's
    speed, 9 ms instead of 5 ms, for its first six runs), and the timed run should see a runtime
    in steady use.
    """
    for run in runners.values():
        for _ in range(warmup):
            run()
    timings = {name: Timing(name) for name in runners}
    start = time.perf_counter()
    for i in range(runs):
        for name, run in runners.items():
            if settle_s:
                time.sleep(settle_s)
                rewarm_until = time.perf_counter() + rewarm_s
                run()
                while time.perf_counter() < rewarm_until:
                    run()
            t0 = time.perf_counter()
            run()
            timings[name].samples.append(time.perf_counter() - t0)
        if progress:
            progress(i + 1)
        if budget_s is not None and i >= 2 and time.perf_counter() - start > budget_s:
            break
    return timings
