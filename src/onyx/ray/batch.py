"""The job behind ``onyx batch``: read INPUT, predict on a Ray cluster, write Parquet."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset
import ray
import ray.data

from onyx.errors import InvalidArgument, OnyxError
from onyx.ray.inference import predict
from onyx.ray.skipped import SkippedBatch, SkippedBatches
from onyx.ray.sources import ROW, input_files, read_input
from onyx.tools.images import ImageOptions


@dataclass
class BatchSummary:
    rows: int  # rows written
    seconds: float
    skipped: list[SkippedBatch]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``), or start a
    local Ray instance when it is None or ``local``; a process already connected stays so."""
    if not ray.is_initialized():
        ray.init(address=None if address in (None, "local") else address)


def run_batch(model: str, input_path: str, output: str, *, batch_size: int, concurrency: int,
              num_cpus: float, on_error: str, input_columns: Mapping[str, Sequence[str]] | None,
              image_options: ImageOptions) -> BatchSummary:
    """Predict every row of ``input_path`` into Parquet files under ``output`` (a new folder)."""
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidArgument(f"--output '{output}' exists and is not an empty folder")
    kind, _ = input_files(input_path)
    image_input = _image_input(model) if kind == "images" else None
    skipped = SkippedBatches() if on_error == "skip" else None
    started = time.perf_counter()
    with _job_settings():
        # one block per batch, so that every actor gets work even when the input is one file
        data = read_input(input_path, image_input, image_options).repartition(target_num_rows_per_block=batch_size)
        if image_input is not None:
            input_columns = {image_input.name: [image_input.name]}
        predictions = predict(data, model, input_columns=input_columns, batch_size=batch_size,
                              concurrency=concurrency, num_cpus=num_cpus, on_error=on_error,
                              skipped=skipped, index_column=ROW)
        try:
            predictions.write_parquet(str(out.resolve()))
        except Exception as exc:  # noqa: BLE001 - Ray wraps what the actors raised
            cause = onyx_cause(exc)
            if cause is None:
                raise
            # Ray Data appends its retry advice to the message: the first line is onyx's
            raise type(cause)(str(cause).splitlines()[0]) from None
    seconds = time.perf_counter() - started
    rows = pyarrow.dataset.dataset(str(out), format="parquet").count_rows() if out.exists() else 0
    return BatchSummary(rows, seconds, skipped.batches() if skipped else [])


@contextmanager
def _job_settings() -> Iterator[None]:
    """Blocks keep the input's order (row numbers pair up with rows by position, and the
    output is written in input order), and an actor's BatchError reaches this process as
    itself rather than inside Ray Data's UserCodeException; the process's previous settings
    come back after."""
    context = ray.data.DataContext.get_current()
    previous = context.execution_options.preserve_order, context.raise_original_map_exception
    context.execution_options.preserve_order = True
    context.raise_original_map_exception = True
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.raise_original_map_exception = previous


def onyx_cause(exc: BaseException) -> OnyxError | None:
    """The OnyxError an actor raised, from inside Ray's wrappers around it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        cause = getattr(exc, "cause", None)
        if isinstance(cause, OnyxError):
            return cause
        if isinstance(exc, OnyxError) and type(exc).__module__.startswith("onyx"):
            return exc
        exc = cause if isinstance(cause, BaseException) else exc.__cause__
    return None


def _image_input(model: str):
    from onyx.session import InferenceSession

    inputs = InferenceSession(model).get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) not in (2, 4):
        raise InvalidArgument(f"a folder of images needs a model with one input of rank 4 (NCHW or NHWC) "
                              f"or [N, H*W]; this one has {inputs}")
    return inputs[0]
