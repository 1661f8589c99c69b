"""Inter-op parallelism (ExecutionMode.ORT_PARALLEL): a plan's steps run on several threads,
each as soon as the steps making its inputs are done, so independent branches (Inception's
four, a model's several heads) overlap. NumPy and the BLAS release the GIL inside their loops.

The sequential executor frees a value after its last reader in step order and lets float
Add/Sub/Mul/Div write into an input they read last; with steps running side by side, "last"
is known only when it happens, so here a value is freed when its last reader finishes, and
no step writes into an input.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

from onyx.runtime import control as run_control
from onyx.runtime.plan import Observer, Plan, raise_step_failure, store_result


class ParallelRunner:
    """Runs ``plan`` on up to ``threads`` threads (0: one per CPU the process may use)."""

    def __init__(self, plan: Plan, threads: int = 0):
        self.plan = plan
        self.threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()) or 1
        steps = plan.steps
        producer: dict[int, int] = {}
        for i, step in enumerate(steps):
            for slot in step.outputs:
                producer[slot] = i
        self._reads: list[frozenset[int]] = [frozenset(step.inputs) | frozenset(plan.implicit_reads(i))
                                             for i, step in enumerate(steps)]
        self._waits_for = [len({producer[s] for s in reads if s in producer and producer[s] != i})
                           for i, reads in enumerate(self._reads)]
        self._next: list[list[int]] = [[] for _ in steps]
        for i, reads in enumerate(self._reads):
            for j in {producer[s] for s in reads if s in producer and producer[s] != i}:
                self._next[j].append(i)
        freed = {slot for step in steps for slot in step.free}
        self._readers: dict[int, int] = {}
        for reads in self._reads:
            for slot in reads & freed:
                self._readers[slot] = self._readers.get(slot, 0) + 1
        # values nobody reads: dropped as soon as they are made
        self._unread = [tuple(s for s in step.outputs if s in freed and s not in self._readers) for step in steps]
        self._pool: ThreadPoolExecutor | None = None

    def run(self, inputs: Sequence[Any], outer: Mapping[str, Any] | None = None,
            observer: Observer | None = None) -> list[Any]:
        """What ``Plan.run`` returns, with independent steps run side by side (under the current
        run control, as Plan.run)."""
        plan = self.plan
        control = run_control.current()
        watching, check_all = control.watching, control.check_all
        values = plan.initial_values(inputs, outer)
        if not plan.steps:
            return [values[s] for s in plan.output_slots]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onyx-inter-op")
        waiting = list(self._waits_for)
        readers = dict(self._readers)
        lock = threading.Lock()
        done = threading.Event()
        state = {"left": len(plan.steps), "error": None}
        context = contextvars.copy_context()  # the run's thread limits (onyx.ops.threads)

        def run_step(i: int) -> None:
            step = plan.steps[i]
            try:
                if watching:
                    control.check(step.node)
                args = [values[s] for s in step.inputs]
                if check_all and step.broadcasts:
                    control.check_broadcast(step.node, args)
                started = perf_counter() if observer else 0.0
                if step.outer is not None:
                    result = step.fn(*args, _outer={n: values[s] for n, s in step.outer})
                else:
                    result = step.fn(*args)
                store_result(values, step.outputs, result)
                del args, result
                if step.grows or check_all:
                    for slot in step.outputs:
                        control.check_value(step.node, values[slot])
                if observer:
                    observer(step.node, [values[s] for s in step.outputs], perf_counter() - started)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                with lock:
                    state["error"] = state["error"] or (step, exc)
                done.set()
                return
            ready = []
            with lock:
                for slot in self._reads[i]:
                    if slot in readers:
                        readers[slot] -= 1
                        if readers[slot] == 0:
                            values[slot] = None
                for slot in self._unread[i]:
                    values[slot] = None
                for j in self._next[i]:
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        ready.append(j)
                state["left"] -= 1
                if state["left"] == 0:
                    done.set()
            if state["error"] is None:
                for j in ready:
                    self._pool.submit(context.copy().run, run_step, j)

        for i, w in enumerate(self._waits_for):
            if w == 0:
                self._pool.submit(context.copy().run, run_step, i)
        done.wait()
        if state["error"] is not None:
            raise_step_failure(*state["error"])
        return [values[s] for s in plan.output_slots]
