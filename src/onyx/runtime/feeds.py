"""Checking a run's feeds against the graph's declared inputs, before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from onyx.devices import is_device_tensor
from onyx.errors import InvalidArgument
from onyx.model.graph import ValueInfo
from onyx.model.types import elem_type_of, elem_type_name
from onyx.ortvalue import OrtValue


def _tensor_type(value: np.ndarray) -> str:
    if value.dtype.kind in "OUS":
        return "tensor(string)"
    try:
        return f"tensor({elem_type_name(elem_type_of(value.dtype))})"
    except (TypeError, KeyError, ValueError):
        return f"array of dtype {value.dtype}"


_PYTHON_DATA = (list, tuple, bool, int, float, complex, str, bytes)


def _as_array(info: ValueInfo, value: Any) -> np.ndarray:
    """A feed as a plain ndarray. Python lists and scalars take the input's declared element type
    (as onnxruntime converts them); NumPy arrays and scalars keep theirs, so a wrong dtype stays
    an error. Array subclasses (masked arrays, matrix) are seen as plain arrays of their data."""
    if isinstance(value, np.ndarray):
        return value if type(value) is np.ndarray else value.view(np.ndarray)
    if isinstance(value, OrtValue):
        return _as_array(info, value.numpy())
    expected = info.dtype if isinstance(value, _PYTHON_DATA) else None
    try:
        if expected == np.dtype(object):
            return np.array(value, dtype=str).astype(object)
        return np.array(value, dtype=expected) if expected is not None else np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - arbitrary user objects
        target = info.type_str if expected is not None else "an array"
        raise InvalidArgument(f"input '{info.name}': cannot convert {type(value).__name__} to {target} ({exc})") from None


class FeedChecker:
    """Validates and normalizes feeds for one graph.

    ``required`` are the inputs a run must feed; ``optional`` are initializers that
    are also inputs and may be overridden.
    """

    def __init__(self, required: list[ValueInfo], optional: list[ValueInfo]):
        self.required = required
        self.optional = optional
        self._infos = {v.name: v for v in required + optional}
        # per input, read from its TypeProto once: (kind, dtype, shape)
        self._declared = {v.name: (v.type.WhichOneof("value") if v.type is not None else None, v.dtype, v.shape)
                          for v in required + optional}

    def check(self, feeds: Any) -> dict[str, Any]:
        if not isinstance(feeds, Mapping):
            raise InvalidArgument(f"input_feed must be a dict of input name -> value, not {type(feeds).__name__}")
        unknown = [name for name in feeds if name not in self._infos]
        if unknown:
            expected = ", ".join(repr(v.name) for v in self.required) or "none"
            raise InvalidArgument(f"unknown input name {unknown[0]!r}; the model's inputs are: {expected}")
        missing = [v.name for v in self.required if v.name not in feeds]
        if missing:
            raise InvalidArgument(f"missing input {missing[0]!r}: every model input must be fed ({len(missing)} missing)")
        bound: dict[str, tuple[int, str]] = {}
        return {name: self._check_one(self._infos[name], value, bound) for name, value in feeds.items()}

    def _check_one(self, info: ValueInfo, value: Any, bound: dict[str, tuple[int, str]]) -> Any:
        kind = self._declared[info.name][0]
        if kind == "optional_type":
            return value
        if kind == "sequence_type":
            if not isinstance(value, (list, tuple)):
                raise InvalidArgument(f"input '{info.name}': expected {info.type_str} (a list), got {type(value).__name__}")
            return list(value)
        if kind == "map_type":
            if not isinstance(value, Mapping):
                raise InvalidArgument(f"input '{info.name}': expected {info.type_str} (a dict), got {type(value).__name__}")
            return dict(value)
        if kind not in ("tensor_type", None):
            return value
        return self._check_tensor(info, value, bound)

    def _check_tensor(self, info: ValueInfo, value: Any, bound: dict[str, tuple[int, str]]) -> Any:
        if isinstance(value, OrtValue) and is_device_tensor(value._value):
            return self._check_device_tensor(info, value, bound)
        _, expected, _ = self._declared[info.name]
        value = _as_array(info, value) if type(value) is not np.ndarray else value
        if expected is not None:
            if expected == np.dtype(object):
                if value.dtype.kind not in "OUS":
                    raise InvalidArgument(f"input '{info.name}': expected {info.type_str}, got {_tensor_type(value)}")
                if value.dtype.kind != "O":
                    value = value.astype(object)
            elif value.dtype != expected:
                raise InvalidArgument(
                    f"input '{info.name}': expected {info.type_str}, got {_tensor_type(value)}; "
                    f"convert it with .astype('{expected.name}')"
                )
        self._check_shape(info, list(value.shape), bound)
        return value

    def _check_device_tensor(self, info: ValueInfo, value: OrtValue, bound: dict[str, tuple[int, str]]) -> OrtValue:
        """A tensor on a device (IOBinding), checked by its type and shape, left where it is."""
        if info.dtype is not None and value.data_type() != info.type_str:
            raise InvalidArgument(f"input '{info.name}': expected {info.type_str}, got {value.data_type()} on {value.device_name()}")
        self._check_shape(info, value.shape(), bound)
        return value

    def _check_shape(self, info: ValueInfo, actual: list[int], bound: dict[str, tuple[int, str]]) -> None:
        shape = self._declared[info.name][2]
        if shape is None:
            return
        if len(actual) != len(shape):
            raise InvalidArgument(
                f"input '{info.name}': expected rank {len(shape)} (shape {_fmt(shape)}), "
                f"got rank {len(actual)} (shape {actual})"
            )
        for axis, (dim, size) in enumerate(zip(shape, actual)):
            if isinstance(dim, int) and dim != size:
                raise InvalidArgument(
                    f"input '{info.name}': dimension {axis} must be {dim} (shape {_fmt(shape)}), "
                    f"got {size} (shape {actual})"
                )
            if isinstance(dim, str) and dim.isidentifier():  # "?" (Paddle exports) names no dimension
                if dim in bound and bound[dim][0] != size:
                    other, where = bound[dim]
                    raise InvalidArgument(
                        f"input '{info.name}': dimension {axis} is '{dim}', which is {other} in {where}, "
                        f"but got {size}"
                    )
                bound.setdefault(dim, (size, f"input '{info.name}'"))


def _fmt(shape: list[int | str | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
