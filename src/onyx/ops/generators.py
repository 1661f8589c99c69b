"""Tensor generators and pass-throughs: Constant, ConstantOfShape, Range, EyeLike,
OneHot, Identity, Dropout, Shape, Size."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.model.types import np_dtype
from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis
from onyx.runtime.control import reserve

# -- Constant -------------------------------------------------------------------------


def _constant(**forms) -> np.ndarray:
    """The one attribute form that is set, as an array (sparse_value arrives densified)."""
    given = {name: value for name, value in forms.items() if value is not None}
    if len(given) != 1:
        raise ValueError(f"Constant needs exactly one value attribute, got {sorted(given) or 'none'}")
    name, value = given.popitem()
    if name in ("value", "sparse_value"):
        return value
    if name in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if name in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    strings = np.empty(len(value) if name == "value_strings" else (), dtype=object)
    strings[...] = value if name == "value_string" else list(value)
    return strings


@kernel("Constant", since=(1, 11, 12))
def constant(
    *,
    value=None,
    sparse_value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
    value_string=None,
    value_strings=None,
):
    return _constant(
        value=value,
        sparse_value=sparse_value,
        value_float=value_float,
        value_floats=value_floats,
        value_int=value_int,
        value_ints=value_ints,
        value_string=value_string,
        value_strings=value_strings,
    )


@kernel("ConstantOfShape", since=9)
def constant_of_shape(input, *, value=None):
    """A tensor of shape ``input`` filled with the 1-element ``value`` (default float32 0)."""
    fill = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.size != 1:
        raise ValueError(f"ConstantOfShape value must hold one element, got {fill.size}")
    shape = tuple(int(d) for d in np.asarray(input, dtype=np.int64).reshape(-1))
    if any(d < 0 for d in shape):
        raise ValueError(f"ConstantOfShape got a negative dimension in {shape}")
    reserve(shape, fill.dtype)
    return np.full(shape, fill[0], dtype=fill.dtype)


# -- Range, EyeLike, OneHot ---------------------------------------------------------------


def _range(start: np.ndarray, limit: np.ndarray, delta: np.ndarray, work: np.dtype) -> np.ndarray:
    """start + i * delta for i < max(ceil((limit - start) / delta), 0), computed in ``work``."""
    dtype = np.asarray(start).dtype
    s, l, d = (np.asarray(v).astype(work).reshape(()) for v in (start, limit, delta))
    if d == 0:
        raise ValueError("Range delta must not be zero")
    if work.kind in "iu":
        count = max(-((s - l) // d), 0)  # integer ceil((l - s) / d)
    else:
        count = max(int(np.ceil((l - s) / d)), 0)
    reserve([count], work)
    return (s + np.arange(count, dtype=work) * d).astype(dtype, copy=False)


@kernel("Range", since=11)
def range_11(start, limit, delta):
    dtype = np.asarray(start).dtype
    return _range(start, limit, delta, dtype)


@kernel("Range", since=27)
def range_27(start, limit, delta, *, stash_type=1):
    """float16/bfloat16 are computed in float32 when ``stash_type`` is 1 (FLOAT)."""
    dtype = np.asarray(start).dtype
    low = dtype in (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
    return _range(start, limit, delta, np_dtype(stash_type) if low else dtype)


@kernel("EyeLike", since=9)
def eye_like(input, *, dtype=None, k=0):
    if input.ndim != 2:
        raise ValueError(f"EyeLike needs a 2-D input, got rank {input.ndim}")
    out_dtype = input.dtype if dtype is None else np_dtype(dtype)
    return np.eye(input.shape[0], input.shape[1], k=k, dtype=out_dtype)


@kernel("OneHot", since=9)
def one_hot(indices, depth, values, *, axis=-1):
    """values[1] where the index (negative ones count from depth) matches, values[0] elsewhere."""
    depth_value = np.asarray(depth).reshape(-1)
    if depth_value.size != 1:
        raise ValueError(f"OneHot depth must be a scalar, got shape {np.shape(depth)}")
    n = int(depth_value[0])
    pair = np.asarray(values).reshape(-1)
    if pair.size != 2:
        raise ValueError(f"OneHot values must be [off_value, on_value], got {pair.size} elements")
    axis = normalize_axis(axis, indices.ndim + 1)
    index = np.asarray(indices).astype(np.int64)
    index = np.where(index < 0, index + n, index)
    hot = index[..., None] == np.arange(n, dtype=np.int64)
    return np.moveaxis(np.where(hot, pair[1], pair[0]), -1, axis)


# -- Identity, Dropout --------------------------------------------------------------------


@kernel("Identity", since=1)
def identity(input):
    """The input itself: tensor, sequence or optional alike."""
    return input


def _inference_dropout(data: np.ndarray, num_outputs: int, mask_dtype) -> np.ndarray | tuple:
    if num_outputs < 2:
        return data
    return data, np.ones(data.shape, dtype=mask_dtype)


@kernel("Dropout", since=(1, 6, 7))
def dropout_1(data, *, is_test=0, ratio=0.5, _num_outputs=1):
    """Before opset 10 the mask has the data's type; onyx runs a Dropout as in inference whatever
    ``is_test`` says (it does not train)."""
    return _inference_dropout(data, _num_outputs, data.dtype)


@kernel("Dropout", since=10)
def dropout_10(data, *, ratio=0.5, _num_outputs=1):
    return _inference_dropout(data, _num_outputs, np.bool_)


@kernel("Dropout", since=12)
def dropout_12(data, ratio=None, training_mode=None, *, seed=None, _num_outputs=1):
    """Identity unless ``training_mode`` is true: then each element is kept with
    probability 1 - ratio (uniform draw >= ratio) and scaled by 1 / (1 - ratio).
    ``seed`` seeds NumPy's legacy RandomState, so a seeded draw is reproducible."""
    drop = 0.5 if ratio is None else float(np.asarray(ratio))
    if training_mode is None or not bool(np.asarray(training_mode)) or drop == 0:
        return _inference_dropout(data, _num_outputs, np.bool_)
    if not 0 <= drop < 1:
        raise ValueError(f"Dropout ratio must be in [0, 1), got {drop}")
    rng = np.random.RandomState(seed) if seed is not None else np.random.RandomState()
    mask = rng.uniform(0.0, 1.0, data.shape) >= drop
    scale = np.asarray(1.0 / (1.0 - drop)).astype(data.dtype)
    output = (data * mask * scale).astype(data.dtype, copy=False)
    return (output, mask) if _num_outputs > 1 else output


# -- Shape, Size -----------------------------------------------------------------------------


@kernel("Shape", since=(1, 15))
def tensor_shape(data, *, start=0, end=None):
    """The dims data.shape[start:end] (negative bounds count from the rank, clamped); before
    opset 15 there are no bounds: all dims."""
    return np.array(data.shape[start:end], dtype=np.int64)


@kernel("Size", since=1)
def size(data):
    return np.array(data.size, dtype=np.int64)
