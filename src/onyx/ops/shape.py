"""Tensor manipulation: reshaping, transposing, joining, splitting and repeating tensors.

Kernels return NumPy views where possible (Reshape, Squeeze, Transpose, Expand...);
they never write into their inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axes, normalize_axis
from onyx.runtime.control import reserve


def as_int_list(values: Sequence[int] | np.ndarray) -> list[int]:
    """An attribute list or an int64 tensor as a list of Python ints."""
    return [int(v) for v in np.asarray(values, dtype=np.int64).reshape(-1)]


# -- Reshape ------------------------------------------------------------------------


def _reshaped_shape(in_shape: tuple[int, ...], shape: list[int], allowzero: int) -> tuple[int, ...]:
    """Resolve Reshape's 0 (copy the input dim, unless ``allowzero``) and -1 (inferred) entries."""
    out = list(shape)
    if not allowzero:
        for i, dim in enumerate(out):
            if dim == 0:
                if i >= len(in_shape):
                    raise ValueError(f"Reshape: shape entry {i} is 0 but the input has rank {len(in_shape)}")
                out[i] = in_shape[i]
    if out.count(-1) > 1:
        raise ValueError(f"Reshape: shape {shape} has more than one -1")
    if any(d < -1 for d in out):
        raise ValueError(f"Reshape: shape {shape} has a negative entry other than -1")
    if allowzero and -1 in out and 0 in out:
        raise ValueError(f"Reshape: shape {shape} has both -1 and 0 with allowzero=1")
    size = math.prod(in_shape)
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or size % known:
            raise ValueError(f"Reshape: cannot infer -1 in {shape} for input shape {in_shape}")
        out[out.index(-1)] = size // known
    if math.prod(out) != size:
        raise ValueError(f"Reshape: cannot reshape input of shape {in_shape} to {shape}")
    return tuple(out)


@kernel("Reshape", since=1)
def reshape_1(data, *, shape=None):
    if shape is None:
        raise ValueError("Reshape-1 needs the 'shape' attribute")
    return data.reshape(_reshaped_shape(data.shape, as_int_list(shape), 0))


@kernel("Reshape", since=(5, 14))
def reshape(data, shape, *, allowzero=0):
    """Before opset 14 there is no allowzero (0: a 0 in ``shape`` copies the input's dimension)."""
    return data.reshape(_reshaped_shape(data.shape, as_int_list(shape), allowzero))


@kernel("Flatten", since=1)
def flatten(input, *, axis=1):
    rank = input.ndim
    if not -rank <= axis <= rank:
        raise ValueError(f"Flatten: axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    outer = int(np.prod(input.shape[:axis], dtype=np.int64))
    inner = int(np.prod(input.shape[axis:], dtype=np.int64))
    return input.reshape(outer, inner)


# -- Squeeze / Unsqueeze --------------------------------------------------------------


def _squeeze(data: np.ndarray, axes) -> np.ndarray:
    if axes is None:
        return data.reshape(tuple(d for d in data.shape if d != 1))
    axes = normalize_axes(axes, data.ndim)
    for a in axes:
        if data.shape[a] != 1:
            raise ValueError(f"Squeeze: axis {a} has size {data.shape[a]}, not 1")
    return data.reshape(tuple(d for i, d in enumerate(data.shape) if i not in axes))


@kernel("Squeeze", since=1)
def squeeze_1(data, *, axes=None):
    return _squeeze(data, axes)


@kernel("Squeeze", since=13)
def squeeze_13(data, axes=None):
    return _squeeze(data, axes)


def _unsqueeze(data: np.ndarray, axes) -> np.ndarray:
    if axes is None:
        raise ValueError("Unsqueeze needs axes")
    out_rank = data.ndim + np.asarray(axes).size
    axes = normalize_axes(axes, out_rank)
    if len(set(axes)) != len(axes):
        raise ValueError(f"Unsqueeze: axes {list(axes)} contain duplicates")
    dims = iter(data.shape)
    return data.reshape(tuple(1 if i in axes else next(dims) for i in range(out_rank)))


@kernel("Unsqueeze", since=1)
def unsqueeze_1(data, *, axes=None):
    return _unsqueeze(data, axes)


@kernel("Unsqueeze", since=13)
def unsqueeze_13(data, axes):
    return _unsqueeze(data, axes)


@kernel("Transpose", since=1)
def transpose(data, *, perm=None):
    if perm is not None and sorted(perm) != list(range(data.ndim)):
        raise ValueError(f"Transpose: perm {list(perm)} is not a permutation of {data.ndim} axes")
    return np.transpose(data, perm)


# -- Concat / Split ------------------------------------------------------------------


def _concat(inputs: Sequence[np.ndarray], axis: int) -> np.ndarray:
    if not inputs:
        raise ValueError("Concat needs at least one input")
    axis = normalize_axis(axis, inputs[0].ndim)
    return np.concatenate(inputs, axis=axis)


@kernel("Concat", since=1)
def concat_1(*inputs, axis=1):
    return _concat(inputs, axis)


@kernel("Concat", since=4)
def concat_4(*inputs, axis=None):
    if axis is None:
        raise ValueError("Concat needs the 'axis' attribute")
    return _concat(inputs, axis)


def _split(x: np.ndarray, axis: int, split, count: int, uneven: bool) -> tuple[np.ndarray, ...]:
    """Split ``x`` along ``axis`` by ``split`` sizes, or into ``count`` parts.

    ``uneven`` (Split-18 ``num_outputs``) allows a smaller last part; otherwise the parts must be equal.
    """
    axis = normalize_axis(axis, x.ndim)
    dim = x.shape[axis]
    if split is not None and np.size(split):  # an empty 'split' tensor counts as absent
        sizes = as_int_list(split)
        if sum(sizes) != dim or any(s < 0 for s in sizes):
            raise ValueError(f"Split: sizes {sizes} do not add up to dimension {dim}")
    else:
        if count < 1:
            raise ValueError("Split needs at least one output")
        if uneven:
            chunk = -(-dim // count)
            sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(count)]
        else:
            if dim % count:
                raise ValueError(f"Split: dimension {dim} is not divisible into {count} equal parts")
            sizes = [dim // count] * count
    parts, start, index = [], 0, [slice(None)] * x.ndim
    for size in sizes:  # views, one per output
        index[axis] = slice(start, start + size)
        parts.append(x[tuple(index)])
        start += size
    return tuple(parts)


@kernel("Split", since=1)
def split_1(input, split_sizes=None, *, split=None, axis=0, _num_outputs=1):
    sizes = split_sizes if split_sizes is not None else split
    return _split(input, axis, sizes, _num_outputs, uneven=False)


@kernel("Split", since=2)
def split_2(input, *, split=None, axis=0, _num_outputs=1):
    return _split(input, axis, split, _num_outputs, uneven=False)


@kernel("Split", since=13)
def split_13(input, split=None, *, axis=0, _num_outputs=1):
    return _split(input, axis, split, _num_outputs, uneven=False)


@kernel("Split", since=18)
def split_18(input, split=None, *, axis=0, num_outputs=None, _num_outputs=1):
    if split is not None and num_outputs is not None:
        raise ValueError("Split: give either the 'split' input or the 'num_outputs' attribute, not both")
    count = num_outputs if num_outputs is not None else _num_outputs
    return _split(input, axis, split, count, uneven=num_outputs is not None)


# -- Expand / Tile ---------------------------------------------------------------------


@kernel("Expand", since=8)
def expand(input, shape):
    target = tuple(as_int_list(shape))
    try:
        out_shape = np.broadcast_shapes(input.shape, target)
    except ValueError:
        raise ValueError(f"Expand: shape {list(target)} does not broadcast with input shape {input.shape}") from None
    reserve(out_shape, input.dtype)  # the view stands for an array of this size
    return np.broadcast_to(input, out_shape)


@kernel("Tile", since=1)
def tile_1(input, tiles, axis):
    axis = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), input.ndim)
    reps = [1] * input.ndim
    reps[axis] = int(np.asarray(tiles).reshape(-1)[0])
    reserve([d * r for d, r in zip(input.shape, reps)], input.dtype)
    return np.tile(input, reps)


@kernel("Tile", since=6)
def tile_6(input, repeats):
    reps = as_int_list(repeats)
    if len(reps) != input.ndim or any(r < 0 for r in reps):
        raise ValueError(f"Tile: repeats {reps} must be {input.ndim} non-negative values")
    reserve([d * r for d, r in zip(input.shape, reps)], input.dtype)
    return np.tile(input, reps)


# -- DepthToSpace / SpaceToDepth ----------------------------------------------------------


def _check_blocks(x: np.ndarray, blocksize: int | None, op: str) -> None:
    if blocksize is None or blocksize < 1:
        raise ValueError(f"{op} needs a positive 'blocksize'")
    if x.ndim != 4:
        raise ValueError(f"{op} expects a 4-D input, got shape {x.shape}")


@kernel("DepthToSpace", since=(1, 11))
def depth_to_space(input, *, blocksize=None, mode="DCR"):
    _check_blocks(input, blocksize, "DepthToSpace")
    b, c, h, w = input.shape
    bs = blocksize
    if c % (bs * bs):
        raise ValueError(f"DepthToSpace: {c} channels are not divisible by blocksize^2 = {bs * bs}")
    if mode == "DCR":
        tmp = input.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        tmp = input.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: unknown mode '{mode}'")
    return tmp.reshape(b, c // (bs * bs), h * bs, w * bs)


@kernel("SpaceToDepth", since=(1, 28))
def space_to_depth(input, *, blocksize=None, mode="DCR"):
    _check_blocks(input, blocksize, "SpaceToDepth")
    b, c, h, w = input.shape
    bs = blocksize
    if h % bs or w % bs:
        raise ValueError(f"SpaceToDepth: spatial shape {(h, w)} is not divisible by blocksize {bs}")
    tmp = input.reshape(b, c, h // bs, bs, w // bs, bs)
    if mode == "DCR":
        tmp = tmp.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        tmp = tmp.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ValueError(f"SpaceToDepth: unknown mode '{mode}'")
    return tmp.reshape(b, c * bs * bs, h // bs, w // bs)
