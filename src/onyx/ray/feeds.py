"""Turning a Ray Data batch into a model's feeds, and the model's outputs into columns.

A batch arrives as a dict of NumPy arrays, a pandas DataFrame or a pyarrow Table; all three
become a dict of NumPy arrays here (:func:`columns_of`). Each model input is fed from one
column (a tensor column: one array per row) or from several scalar columns stacked side by
side (a tabular model's feature vector). Values are checked against the input's declared
element type and fixed dimensions; a batch that does not fit raises
:class:`onyx.InvalidArgument` naming the input, the column and what was wrong.
No Ray import here: the conversion is plain NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument
from onyx.model.types import np_dtype_from_type_string
from onyx.session import NodeArg

Columns = dict[str, np.ndarray]


def columns_of(batch: Any) -> Columns:
    """A Ray batch (NumPy dict, pandas DataFrame or pyarrow Table) as a dict of NumPy arrays."""
    if isinstance(batch, Mapping):
        return {name: np.asarray(values) for name, values in batch.items()}
    if hasattr(batch, "to_pydict") and hasattr(batch, "column_names"):  # pyarrow.Table
        return {name: _arrow_to_numpy(batch.column(name)) for name in batch.column_names}
    if hasattr(batch, "columns") and hasattr(batch, "to_numpy"):  # pandas.DataFrame
        return {str(name): batch[name].to_numpy() for name in batch.columns}
    raise InvalidArgument(f"cannot read a batch of type {type(batch).__name__}: expected a dict of "
                          "NumPy arrays, a pandas DataFrame or a pyarrow Table")


def _arrow_to_numpy(column: Any) -> np.ndarray:
    values = column.to_pylist()
    if values and isinstance(values[0], list):
        return _stack_rows(np.array(values + [None], dtype=object)[:-1], "?")
    return column.to_numpy(zero_copy_only=False)


def resolve_input_columns(inputs: Sequence[NodeArg], column_names: Sequence[str],
                          input_columns: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    """Which columns feed each input: ``input_columns`` where given, else the column named after
    the input; a model with one input and no such column takes all columns, stacked in order."""
    given = dict(input_columns or {})
    unknown = sorted(set(given) - {arg.name for arg in inputs})
    if unknown:
        raise InvalidArgument(f"input_columns names {unknown}, which the model does not have; "
                              f"its inputs are {[arg.name for arg in inputs]}")
    chosen = {}
    for arg in inputs:
        if arg.name in given:
            columns = given[arg.name]
            chosen[arg.name] = [columns] if isinstance(columns, str) else list(columns)
        elif arg.name in column_names:
            chosen[arg.name] = [arg.name]
        elif len(inputs) == 1:
            chosen[arg.name] = list(column_names)
        else:
            raise InvalidArgument(f"no column feeds input '{arg.name}': name a column after it or map it "
                                  f"with input_columns (columns: {list(column_names)})")
    for name, columns in chosen.items():
        missing = [c for c in columns if c not in column_names]
        if missing or not columns:
            raise InvalidArgument(f"input '{name}' is fed from columns {columns}, but the batch has "
                                  f"{list(column_names)}")
    return chosen


def make_feeds(inputs: Sequence[NodeArg], columns: Columns, chosen: Mapping[str, list[str]]) -> dict[str, np.ndarray]:
    """The feeds for one batch; raises InvalidArgument when a column does not fit its input."""
    rows = _row_count(columns)
    feeds = {}
    for arg in inputs:
        names = chosen[arg.name]
        if len(names) == 1:
            value = _stack_rows(columns[names[0]], names[0])
        else:
            value = np.stack([_stack_rows(columns[c], c) for c in names], axis=-1)
        feeds[arg.name] = _fit(arg, value, ", ".join(names), rows)
    return feeds


def _row_count(columns: Columns) -> int:
    counts = {len(values) for values in columns.values()}
    if len(counts) > 1:
        raise InvalidArgument(f"the batch's columns have different lengths: {sorted(counts)}")
    return counts.pop() if counts else 0


def _stack_rows(values: np.ndarray, column: str) -> np.ndarray:
    """A column of per-row arrays (object dtype: lists, arrays) as one array with a batch axis."""
    if values.dtype != object or len(values) == 0 or isinstance(values[0], str):
        return values
    if any(v is None for v in values):
        raise InvalidArgument(f"column '{column}' has empty (null) rows")
    try:
        return np.stack([np.asarray(v) for v in values])
    except ValueError:
        shapes = sorted({np.shape(v) for v in values})
        raise InvalidArgument(f"column '{column}' holds rows of different shapes {shapes[:4]}") from None


def _fit(arg: NodeArg, value: np.ndarray, source: str, rows: int) -> np.ndarray:
    """``value`` as the input's dtype, after checking its kind, rank and fixed dimensions."""
    dtype = np_dtype_from_type_string(arg.type)
    value = _convert(value, dtype, arg.name, source)
    shape = list(arg.shape)
    if value.ndim != len(shape):
        raise InvalidArgument(f"input '{arg.name}' (from {source}) expects rank {len(shape)} {shape}, "
                              f"the batch gives shape {list(value.shape)}")
    for axis, (want, got) in enumerate(zip(shape, value.shape)):
        if axis == 0 and got != rows:
            raise InvalidArgument(f"input '{arg.name}' (from {source}): the first axis must be the batch "
                                  f"({rows} rows), the batch gives shape {list(value.shape)}")
        if isinstance(want, int) and want > 0 and want != got:
            raise InvalidArgument(f"input '{arg.name}' (from {source}) expects shape {shape}, "
                                  f"the batch gives {list(value.shape)}")
    return value


def _convert(value: np.ndarray, dtype: np.dtype, name: str, source: str) -> np.ndarray:
    """Numbers convert within their kind and from integers to floats; anything else is an error."""
    if value.dtype == dtype:
        return value
    if dtype == np.dtype(object):
        if value.dtype.kind in "OUS":
            return value.astype(object)
    elif value.dtype.kind in "biuf" and (np.can_cast(value.dtype, dtype, "same_kind")
                                         or (value.dtype.kind in "biu" and dtype.kind == "f")):
        return value.astype(dtype)
    elif value.dtype == object:
        try:
            return value.astype(dtype)
        except (TypeError, ValueError):
            bad = next((v for v in value.ravel() if not _convertible(v, dtype)), None)
            raise InvalidArgument(f"input '{name}' (from {source}) expects {dtype.name} values, "
                                  f"the batch has {bad!r}") from None
    raise InvalidArgument(f"input '{name}' (from {source}) expects {dtype.name}, the batch gives "
                          f"{value.dtype.name}")


def _convertible(value: Any, dtype: np.dtype) -> bool:
    try:
        np.asarray(value).astype(dtype)
        return value is not None
    except (TypeError, ValueError):
        return False


def output_columns_of(names: Sequence[str], values: Sequence[Any], renames: Mapping[str, str],
                      rows: int) -> Columns:
    """Model outputs as columns: one array per output whose first axis is the batch."""
    columns = {}
    for name, value in zip(names, values):
        if not isinstance(value, np.ndarray):
            raise InvalidArgument(f"output '{name}' is a {type(value).__name__}, not a tensor; leave it "
                                  "out with output_columns (for skl2onnx classifiers, convert with "
                                  "options={'zipmap': False})")
        if value.ndim == 0 or value.shape[0] != rows:
            raise InvalidArgument(f"output '{name}' has shape {list(value.shape)}, which has no batch "
                                  f"axis of {rows} rows to put in a column")
        columns[renames.get(name, name)] = value
    return columns
