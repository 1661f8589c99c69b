"""Dynamic batching: requests for one model queue up, compatible ones are stacked into one run.

A model's batcher takes the oldest queued request once one of the model's session instances is
free, waits at most the model's ``max_queue_delay_ms`` (counted from that request's arrival) for
more requests with the same non-batch shapes, stacks them along the first dimension up to
``max_batch_size`` rows, runs the model in the worker pool, and splits the outputs back.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from onyx.errors import OnyxError
from onyx.serve.errors import RequestError, Unavailable
from onyx.serve.metrics import Metrics
from onyx.serve.protocol import InferRequest
from onyx.serve.repository import Model

Outputs = dict[str, np.ndarray]


@dataclass
class _Job:
    request: InferRequest
    future: asyncio.Future
    queued_at: float


class Batcher:
    """The queue and the run loop of one model version."""

    def __init__(self, model: Model, executor: Executor, metrics: Metrics):
        self.model, self._executor = model, executor
        self._labels = (model.name, model.version)
        self._metrics = metrics
        self._pending: deque[_Job] = deque()
        self._waiting = 0  # requests not yet handed to a run: the queue and the batch being gathered
        self._arrived = asyncio.Event()
        self._free: asyncio.Queue = asyncio.Queue()
        for session in model.sessions:
            self._free.put_nowait(session)
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the loop; requests still queued get 503."""
        if self._loop_task:
            self._loop_task.cancel()
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_exception(Unavailable("the server is shutting down"))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def infer(self, request: InferRequest) -> Outputs:
        """Queue ``request`` and wait for its outputs; 503 when the queue is full."""
        if len(self._pending) >= self.model.config.max_queue_size:
            raise Unavailable(f"model '{self.model.name}' has {len(self._pending)} requests queued "
                              f"(max_queue_size); try again later")
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(request, future, time.perf_counter()))
        self._set_waiting(+1)
        self._arrived.set()
        return await future

    async def _loop(self) -> None:
        while True:
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            session = await self._free.get()
            batch = await self._collect()
            self._set_waiting(-len(batch))
            task = asyncio.get_running_loop().create_task(self._run(session, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _set_waiting(self, change: int) -> None:
        self._waiting += change
        self._metrics.queue_depth.labels(*self._labels).set(self._waiting)

    async def _collect(self) -> list[_Job]:
        first = self._pending.popleft()
        batch, rows, limit = [first], first.request.rows, self.model.max_batch_size
        deadline = first.queued_at + self.model.config.max_queue_delay_ms / 1000
        while rows < limit:
            if not self._pending:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                continue
            candidate = self._pending[0].request
            if candidate.shape_key != first.request.shape_key or rows + candidate.rows > limit:
                break
            batch.append(self._pending.popleft())
            rows += candidate.rows
        return batch

    async def _run(self, session, batch: list[_Job]) -> None:
        started = time.perf_counter()
        for job in batch:
            self._metrics.queue_seconds.labels(*self._labels).observe(started - job.queued_at)
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._execute, session, [job.request for job in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
            results = [exc] * len(batch)
        finally:
            self._free.put_nowait(session)
        for job, result in zip(batch, results):
            if job.future.done():  # the client went away
                continue
            if isinstance(result, Exception):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _execute(self, session, requests: list[InferRequest]) -> list[Outputs]:
        """Run in a worker thread: stack, run once, split (one run per request if a model drops the batch)."""
        if len(requests) == 1:
            return [self._run_session(session, requests[0].feeds, 1)]
        rows = [request.rows for request in requests]
        stacked = {name: np.concatenate([request.feeds[name] for request in requests])
                   for name in requests[0].feeds}
        outputs = self._run_session(session, stacked, sum(rows))
        if any(array.shape[:1] != (sum(rows),) for array in outputs.values()):
            return [self._run_session(session, request.feeds, 1) for request in requests]
        bounds = np.cumsum(rows)[:-1]
        parts = {name: np.split(array, bounds) for name, array in outputs.items()}
        return [{name: parts[name][i] for name in parts} for i in range(len(requests))]

    def _run_session(self, session, feeds: dict[str, np.ndarray], rows: int) -> Outputs:
        started = time.perf_counter()
        try:
            values = session.run(None, feeds)
        except OnyxError as exc:
            raise RequestError(f"model '{self.model.name}' failed on this input: {exc}") from None
        self._metrics.compute_seconds.labels(*self._labels).observe(time.perf_counter() - started)
        self._metrics.runs.labels(*self._labels).inc()
        self._metrics.batch_rows.labels(*self._labels).observe(rows)
        return {spec.name: value for spec, value in zip(self.model.outputs, values)}
