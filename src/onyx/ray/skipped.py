"""A record, kept in a small Ray actor, of the batches that ``on_error="skip"`` left out."""

from __future__ import annotations

from dataclasses import dataclass

import ray


@dataclass(frozen=True)
class SkippedBatch:
    rows: str  # "rows 128-191", or "a batch of 64 rows" without an index column
    count: int
    reason: str


@ray.remote(num_cpus=0)
class _SkippedBatchesActor:
    def __init__(self) -> None:
        self.batches: dict[tuple[str, str], SkippedBatch] = {}

    def add(self, batch: SkippedBatch) -> None:
        # a batch retried after an actor died is reported once
        self.batches[(batch.rows, batch.reason)] = batch

    def all(self) -> list[SkippedBatch]:
        return list(self.batches.values())


class SkippedBatches:
    """Pass to :func:`onyx.ray.predict` with ``on_error="skip"``; after the dataset has run,
    :meth:`batches` lists what was left out. Create it after ``ray.init``."""

    def __init__(self) -> None:
        self._actor = _SkippedBatchesActor.remote()

    def add(self, batch: SkippedBatch) -> None:
        """Called by the actors; returns once recorded, so a finished job's list is complete."""
        ray.get(self._actor.add.remote(batch))

    def batches(self) -> list[SkippedBatch]:
        return ray.get(self._actor.all.remote())

    @property
    def rows(self) -> int:
        """How many rows the skipped batches held."""
        return sum(b.count for b in self.batches())
