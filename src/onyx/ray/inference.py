"""``onyx.ray.predict``: a model's predictions over a Ray Dataset, one session per actor."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import ray
import ray.data

from onyx.errors import InvalidArgument, ModelLoadError, NoSuchFile
from onyx.ray.predictor import ON_ERROR, Predictor
from onyx.ray.skipped import SkippedBatches


def model_bytes(model: Any, output_columns: Mapping[str, str] | None = None) -> bytes:
    """The serialized model (from a path, bytes or an onnx.ModelProto), checked here rather than
    in every actor: it parses, keeps its weights inside, and has the outputs ``output_columns`` names."""
    from onnx import ModelProto, TensorProto

    from onyx.model.loader import check_proto, read_proto

    label = str(model) if isinstance(model, (str, os.PathLike)) else "<model>"
    data = _read(model) if isinstance(model, (str, os.PathLike)) else model
    proto, _, _ = read_proto(data)
    check_proto(proto, label)
    if any(t.data_location == TensorProto.EXTERNAL for t in proto.graph.initializer):
        raise InvalidArgument(f"{label}: the model keeps its weights in external data files, which "
                              "are not shipped to the actors; save it as one file first")
    names = [o.name for o in proto.graph.output]
    unknown = sorted(set(output_columns or {}) - set(names))
    if unknown:
        raise InvalidArgument(f"output_columns names {unknown}, which the model does not have; "
                              f"its outputs are {names}")
    return proto.SerializeToString() if isinstance(data, ModelProto) else bytes(data)


def _read(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise NoSuchFile(f"model file '{path}' does not exist") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file '{path}': {exc.strerror}") from None


def predict(dataset: "ray.data.Dataset", model: Any, *,
            input_columns: Mapping[str, str | Sequence[str]] | None = None,
            output_columns: Mapping[str, str] | None = None,
            batch_size: int = 256, concurrency: int | tuple[int, int] = 1, num_cpus: float = 1,
            providers: Sequence[str] | None = None, sess_options: Any = None,
            on_error: str = "raise", skipped: SkippedBatches | None = None,
            index_column: str | None = None) -> "ray.data.Dataset":
    """The rows of ``dataset`` with the model's outputs added as columns (lazy, like any Dataset).

    ``model``: a path, bytes or onnx.ModelProto; its bytes go to the actors once through Ray's
    object store. Each of ``concurrency`` actors (``num_cpus`` each) creates one
    InferenceSession(``sess_options``, ``providers``) and runs batches of ``batch_size`` rows.
    ``input_columns`` maps an input to its column, or to several scalar columns stacked into
    one feature vector (default: the column named after the input; a single-input model takes
    all columns). The columns fed to the model are replaced by one column per output
    (``output_columns`` picks and renames them: ``{output: column}``); other columns pass through.
    A batch that does not fit the model raises :class:`onyx.ray.BatchError` naming its rows
    (``index_column`` values, when given) with ``on_error="raise"``, or is left out with
    ``on_error="skip"`` and listed in ``skipped``.
    """
    if on_error not in ON_ERROR:
        raise InvalidArgument(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be at least 1, not {batch_size}")
    data = model_bytes(model, output_columns)
    constructor = dict(model_ref=[ray.put(data)], sess_options=sess_options, providers=providers,
                       input_columns=input_columns, output_columns=output_columns, on_error=on_error,
                       index_column=index_column, skipped=skipped)
    if isinstance(concurrency, tuple):
        actors = ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    else:
        actors = ray.data.ActorPoolStrategy(size=concurrency)
    return dataset.map_batches(Predictor, fn_constructor_kwargs=constructor, batch_size=batch_size,
                               compute=actors, num_cpus=num_cpus, batch_format="numpy")
