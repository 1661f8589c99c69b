"""Padding: Pad (constant, reflect, edge, wrap; negative pads crop) and CenterCropPad."""

from __future__ import annotations

import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.shape import as_int_list
from onyx.ops.util import normalize_axes

_NUMPY_MODES = {"reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def _pad(data: np.ndarray, pads, mode: str, value, axes=None) -> np.ndarray:
    """Pad ``data`` by ``pads`` = [begin per axis..., end per axis...] over ``axes`` (default: all)."""
    axes = normalize_axes(axes, data.ndim) if axes is not None else tuple(range(data.ndim))
    pads = as_int_list(pads)
    if len(pads) != 2 * len(axes):
        raise ValueError(f"Pad: expected {2 * len(axes)} pads for axes {list(axes)}, got {len(pads)}")
    if mode != "constant" and mode not in _NUMPY_MODES:
        raise ValueError(f"Pad: unknown mode '{mode}'")
    width = [[0, 0] for _ in range(data.ndim)]
    for i, axis in enumerate(axes):
        width[axis] = [pads[i], pads[i + len(axes)]]
    # negative pads crop first; the rest is padding
    crop = tuple(slice(max(-b, 0), data.shape[a] - max(-e, 0)) for a, (b, e) in enumerate(width))
    if any(s.start > s.stop for s in crop):
        raise ValueError(f"Pad: pads {pads} crop more than the input shape {data.shape}")
    data = data[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if not any(b or e for b, e in width):
        return data
    if mode == "constant":
        out = np.full([n + b + e for n, (b, e) in zip(data.shape, width)], value, dtype=data.dtype)
        out[tuple(slice(b, b + n) for n, (b, _) in zip(data.shape, width))] = data
        return out
    if data.size == 0:
        raise ValueError(f"Pad: mode '{mode}' cannot pad an empty tensor")
    return np.pad(data, width, mode=_NUMPY_MODES[mode])


@kernel("Pad", since=1)
def pad_1(data, *, paddings=None, mode="constant", value=0.0):
    if paddings is None:
        raise ValueError("Pad-1 needs the 'paddings' attribute")
    return _pad(data, paddings, mode, value)


@kernel("Pad", since=2)
def pad_2(data, *, pads=None, mode="constant", value=0.0):
    if pads is None:
        raise ValueError("Pad-2 needs the 'pads' attribute")
    return _pad(data, pads, mode, value)


@kernel("Pad", since=(11, 18))
def pad_11(data, pads, constant_value=None, axes=None, *, mode="constant"):
    value = 0 if constant_value is None or np.size(constant_value) == 0 else np.asarray(constant_value).reshape(-1)[0]
    return _pad(data, pads, mode, value, axes)


@kernel("CenterCropPad", since=18)
def center_crop_pad(input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = normalize_axes(axes, rank) if axes is not None else tuple(range(rank))
    target = as_int_list(shape)
    if len(target) != len(axes) or any(t < 0 for t in target):
        raise ValueError(f"CenterCropPad: shape {target} does not match axes {list(axes)}")
    out_shape = list(input_data.shape)
    source = [slice(None)] * rank
    dest = [slice(None)] * rank
    for axis, size in zip(axes, target):
        dim = input_data.shape[axis]
        out_shape[axis] = size
        if size <= dim:  # crop: the window start rounds down
            start = (dim - size) // 2
            source[axis] = slice(start, start + size)
        else:  # pad: the extra odd pixel goes to the end
            start = (size - dim) // 2
            dest[axis] = slice(start, start + dim)
    cropped = input_data[tuple(source)]
    if cropped.shape == tuple(out_shape):
        return cropped
    out = np.zeros(out_shape, dtype=input_data.dtype)
    out[tuple(dest)] = cropped
    return out
