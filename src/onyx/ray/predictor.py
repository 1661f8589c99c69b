"""The callable class Ray Data runs in each actor: one InferenceSession, many batches."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument, OnyxError
from onyx.ray.feeds import columns_of, make_feeds, output_columns_of, resolve_input_columns
from onyx.ray.skipped import SkippedBatch, SkippedBatches

log = logging.getLogger("onyx.ray")

ON_ERROR = ("raise", "skip")


class BatchError(InvalidArgument):
    """A batch could not be fed to the model; the message names its rows."""


def row_range(columns: Mapping[str, np.ndarray], index_column: str | None) -> str:
    """'rows 128-191' from the index column, or 'a batch of 64 rows' without one."""
    rows = len(next(iter(columns.values()), ()))
    if index_column and index_column in columns and rows:
        index = columns[index_column]
        return f"rows {index.min()}-{index.max()}"
    return f"a batch of {rows} rows"


class Predictor:
    """Created once per actor: the session is built from model bytes fetched from the object
    store; each call turns a batch into feeds, runs the model and returns the batch's columns
    that were not fed to the model plus one column per output."""

    def __init__(self, model_ref: list, sess_options: Any, providers: Sequence[str] | None,
                 input_columns: Mapping[str, Any] | None, output_columns: Mapping[str, str] | None,
                 on_error: str, index_column: str | None, skipped: SkippedBatches | None) -> None:
        import ray

        from onyx.session import InferenceSession

        self.session = InferenceSession(ray.get(model_ref[0]), sess_options, providers=providers)
        self.inputs = self.session.get_inputs()
        all_outputs = [o.name for o in self.session.get_outputs()]
        self.renames = dict(output_columns or {name: name for name in all_outputs})  # checked by predict()
        self.output_names = [name for name in all_outputs if name in self.renames]
        self.input_columns = input_columns
        self.on_error = on_error
        self.index_column = index_column
        self.skipped = skipped

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        columns = columns_of(batch)
        try:
            chosen = resolve_input_columns(self.inputs, [c for c in columns if c != self.index_column],
                                           self.input_columns)
            feeds = make_feeds(self.inputs, columns, chosen)
            rows = len(next(iter(feeds.values())))
            outputs = output_columns_of(self.output_names, self.session.run(self.output_names, feeds),
                                        self.renames, rows)
        except OnyxError as exc:
            return self._failed(columns, exc)
        fed = {c for names in chosen.values() for c in names}
        kept = {name: values for name, values in columns.items() if name not in fed}
        return {**kept, **outputs}

    def _failed(self, columns: Mapping[str, np.ndarray], exc: OnyxError) -> dict[str, np.ndarray]:
        where = row_range(columns, self.index_column)
        message = f"{where}: {exc}"
        if self.on_error == "raise":
            raise BatchError(message) from None
        log.warning("skipped %s", message)
        if self.skipped is not None:
            self.skipped.add(SkippedBatch(where, len(next(iter(columns.values()), ())), str(exc)))
        return {}
