"""The dynamic batcher on its own: stacking, splitting, queue limits, shutdown (a fake session that records runs)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from serving import require

require("starlette", "uvicorn", "prometheus_client")

from onyx.serve.batching import Batcher  # noqa: E402
from onyx.serve.errors import Unavailable  # noqa: E402
from onyx.serve.metrics import Metrics  # noqa: E402
from onyx.serve.protocol import InferRequest  # noqa: E402
from onyx.serve.repository import ModelConfig, TensorSpec  # noqa: E402


class RecordingSession:
    """Doubles its input; records the batch of every run; can be held until released."""

    def __init__(self, drop_batch: bool = False):
        self.runs: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.drop_batch = drop_batch

    def run(self, output_names, feeds):
        self.release.wait(10)
        x = feeds["x"]
        self.runs.append(len(x))
        return [x.sum(keepdims=True) if self.drop_batch and len(x) > 1 else x * 2]


def fake_model(session, **config) -> SimpleNamespace:
    config = ModelConfig().updated(config)
    return SimpleNamespace(name="fake", version="1", config=config, max_batch_size=config.max_batch_size,
                           sessions=[session], outputs=[TensorSpec("y", "FP32", [-1, 2])])


def request(rows: int, width: int = 2, start: float = 0) -> InferRequest:
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width) + start
    return InferRequest({"x": x}, [], rows=rows, shape_key=(("x", (width,)),))


def run_batcher(model, body):
    async def main():
        with ThreadPoolExecutor(2) as pool:
            batcher = Batcher(model, pool, Metrics())
            batcher.start()
            try:
                return await body(batcher)
            finally:
                await batcher.stop()
    return asyncio.run(main())


def test_requests_within_the_delay_share_one_run_and_get_their_own_rows():
    session = RecordingSession()
    requests = [request(rows, start=10 * i) for i, rows in enumerate((1, 3, 2))]
    outputs = run_batcher(fake_model(session, max_queue_delay_ms=200),
                          lambda b: asyncio.gather(*(b.infer(r) for r in requests)))
    assert session.runs == [6]
    for r, out in zip(requests, outputs):
        np.testing.assert_array_equal(out["y"], r.feeds["x"] * 2)


def test_a_batch_stops_at_max_batch_size():
    session = RecordingSession()
    requests = [request(2) for _ in range(5)]
    run_batcher(fake_model(session, max_queue_delay_ms=200, max_batch_size=4),
                lambda b: asyncio.gather(*(b.infer(r) for r in requests)))
    assert session.runs == [4, 4, 2]


def test_different_non_batch_shapes_run_apart():
    session = RecordingSession()
    requests = [request(1, width=2), request(1, width=3), request(1, width=2)]
    outputs = run_batcher(fake_model(session, max_queue_delay_ms=100),
                          lambda b: asyncio.gather(*(b.infer(r) for r in requests)))
    assert sorted(session.runs) == [1, 1, 1] and len(session.runs) == 3
    assert [o["y"].shape for o in outputs] == [(1, 2), (1, 3), (1, 2)]


def test_a_model_that_drops_the_batch_dimension_reruns_each_request_alone():
    session = RecordingSession(drop_batch=True)
    requests = [request(1, start=i) for i in range(3)]
    outputs = run_batcher(fake_model(session, max_queue_delay_ms=200),
                          lambda b: asyncio.gather(*(b.infer(r) for r in requests)))
    assert session.runs == [3, 1, 1, 1]
    for r, out in zip(requests, outputs):
        np.testing.assert_array_equal(out["y"], r.feeds["x"] * 2)


def test_a_full_queue_answers_503_and_the_queued_requests_still_run():
    session = RecordingSession()
    session.release.clear()

    async def body(batcher):
        running = asyncio.ensure_future(batcher.infer(request(1)))  # held inside the session
        await asyncio.sleep(0.1)
        queued = [asyncio.ensure_future(batcher.infer(request(1))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Unavailable, match="max_queue_size"):
            await batcher.infer(request(1))
        session.release.set()
        return await asyncio.gather(running, *queued)

    outputs = run_batcher(fake_model(session, max_batch_size=0, max_queue_size=2), body)
    assert len(outputs) == 3 and session.runs == [1, 1, 1]


def test_stopping_answers_queued_requests_503():
    session = RecordingSession()
    session.release.clear()

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(fake_model(session, max_batch_size=0), pool, Metrics())
            batcher.start()
            running = asyncio.ensure_future(batcher.infer(request(1)))
            await asyncio.sleep(0.1)
            queued = asyncio.ensure_future(batcher.infer(request(1)))
            await asyncio.sleep(0)
            stopping = asyncio.ensure_future(batcher.stop())
            await asyncio.sleep(0)  # stop refuses what is queued, then waits for the run in progress
            session.release.set()
            results = await asyncio.gather(running, queued, return_exceptions=True)
            await stopping
            return results

    done, refused = asyncio.run(main())
    np.testing.assert_array_equal(done["y"], request(1).feeds["x"] * 2)
    assert isinstance(refused, Unavailable)
