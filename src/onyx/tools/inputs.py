"""Preparing feeds for a model: from .npy/.npz/.json or image files, or generated from the
declared inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument
from onyx.model.types import np_dtype_from_type_string
from onyx.session import NodeArg


def dtype_of(arg: NodeArg) -> np.dtype:
    """NumPy dtype of a tensor NodeArg ('tensor(float)' -> float32)."""
    try:
        return np_dtype_from_type_string(arg.type)
    except ValueError:
        raise InvalidArgument(f"input '{arg.name}' has type {arg.type}; only tensor inputs can be generated") from None


def parse_assignments(items: tuple[str, ...], what: str) -> dict[str, str]:
    """['a=1', 'b=x.npy'] -> {'a': '1', 'b': 'x.npy'}; a missing '=' is a clear error."""
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidArgument(f"{what} '{item}' must look like NAME=VALUE")
        result[name] = value
    return result


def concrete_shape(arg: NodeArg, dims: dict[str, int]) -> list[int]:
    """The input's shape with symbolic dims taken from ``dims`` (1 when not given)."""
    return [d if isinstance(d, int) else dims.get(d, 1) if isinstance(d, str) else 1 for d in arg.shape]


def generate_input(arg: NodeArg, dims: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """Random values that respect the input's dtype and shape."""
    dtype = dtype_of(arg)
    shape = concrete_shape(arg, dims)
    if dtype == np.dtype(object):
        return np.full(shape, "onyx", dtype=object)
    if dtype == np.dtype(bool):
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(np.float32).astype(dtype)


def load_json_input(arg: NodeArg, path: str) -> np.ndarray:
    """A nested list (or ``{name: nested list}``) from a JSON file, as the input's dtype."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"input '{arg.name}': cannot read '{path}' as JSON ({exc})") from None
    if isinstance(data, dict):
        if arg.name not in data:
            raise InvalidArgument(f"input '{arg.name}': '{path}' holds {sorted(data)}, none named '{arg.name}'")
        data = data[arg.name]
    try:
        return np.asarray(data, dtype=dtype_of(arg))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"input '{arg.name}': '{path}' is not a {arg.type} array ({exc})") from None


def load_input_file(arg: NodeArg, path: str, image_options: Any = None) -> Any:
    """The value of input ``arg`` from a file: .npy, .npz (the array named like the input, or
    the only one), .json, or an image (see onyx.tools.images)."""
    from onyx.tools.images import ImageOptions, is_image_file, load_image

    name = arg.name
    file = Path(path)
    if not file.is_file():
        raise InvalidArgument(f"input '{name}': file '{path}' does not exist")
    if file.suffix.lower() == ".json":
        return load_json_input(arg, path)
    if is_image_file(path):
        return load_image(path, name, arg.shape, dtype_of(arg), image_options or ImageOptions())
    try:
        if file.suffix == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                if name in archive:
                    return archive[name]
                if len(archive.files) == 1:
                    return archive[archive.files[0]]
                raise InvalidArgument(f"input '{name}': '{path}' holds {archive.files}, none named '{name}'")
        return np.load(file, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InvalidArgument(f"input '{name}': cannot read '{path}' as a NumPy file ({exc})") from None


def prepare_feeds(
    inputs: list[NodeArg], files: dict[str, str], dims: dict[str, int], seed: int = 0, image_options: Any = None
) -> dict[str, Any]:
    """Feeds for every model input: from ``files`` where given, generated otherwise.
    ``image_options`` (an onyx.tools.images.ImageOptions) applies to image files."""
    known = {arg.name for arg in inputs}
    for name in files:
        if name not in known:
            raise InvalidArgument(f"--input '{name}': the model has no such input (inputs: {sorted(known)})")
    rng = np.random.default_rng(seed)
    return {
        arg.name: load_input_file(arg, files[arg.name], image_options) if arg.name in files
        else generate_input(arg, dims, rng)
        for arg in inputs
    }
