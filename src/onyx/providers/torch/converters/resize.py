"""Resize (opset 11 on), axis by axis: each output coordinate maps back to the input as the
spec's coordinate_transformation_mode says, and reads its neighbours (nearest, linear or cubic
taps) with weights computed in float64."""

from __future__ import annotations

import math

import torch

from onyx.providers.torch.converters.registry import FLOATS, NodeInfo, converter, plain, text

_COORDINATES = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                "half_pixel_symmetric"}
_NEAREST = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}


def _resize_attrs(info: NodeInfo) -> dict | None:
    attrs = info.attrs
    if set(attrs) - {"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                     "extrapolation_value", "keep_aspect_ratio_policy", "mode", "nearest_mode"}:
        return None
    kwargs = {
        "mode": text(attrs.get("mode"), "nearest"),
        "coordinates": text(attrs.get("coordinate_transformation_mode"), "half_pixel"),
        "nearest_mode": text(attrs.get("nearest_mode"), "round_prefer_floor"),
        "cubic_a": float(attrs.get("cubic_coeff_a", -0.75)),
        "exclude_outside": int(attrs.get("exclude_outside", 0)),
        "axes": plain(attrs["axes"]) if "axes" in attrs else None,
    }
    if (attrs.get("antialias", 0) or text(attrs.get("keep_aspect_ratio_policy"), "stretch") != "stretch"
            or kwargs["mode"] not in ("nearest", "linear", "cubic") or kwargs["coordinates"] not in _COORDINATES
            or kwargs["nearest_mode"] not in _NEAREST):
        return None
    return kwargs


def _source(coordinates: str, out: torch.Tensor, scale: float, size: int, length: int) -> torch.Tensor:
    """Input coordinates of output positions ``out`` (float64)."""
    if coordinates == "half_pixel":
        return (out + 0.5) / scale - 0.5
    if coordinates == "half_pixel_symmetric":
        adjustment = length / (scale * size)
        center = size / 2
        offset = center * (1 - adjustment)
        return offset + (out + 0.5) / scale - 0.5
    if coordinates == "pytorch_half_pixel":
        return (out + 0.5) / scale - 0.5 if length > 1 else torch.zeros_like(out)
    if coordinates == "align_corners":  # over the unrounded output length, size * scale
        return out * ((size - 1) / (size * scale - 1)) if length > 1 else torch.zeros_like(out)
    if coordinates == "tf_half_pixel_for_nn":
        return (out + 0.5) / scale
    return out / scale


def _taps(mode: str, x: torch.Tensor, size: int, nearest_mode: str, a: float, exclude_outside: int):
    """(indices, weights), each (outputs, taps), reading an axis of ``size`` at coordinates ``x``."""
    if mode == "nearest":
        if nearest_mode == "round_prefer_floor":
            index = torch.ceil(x - 0.5)
        elif nearest_mode == "round_prefer_ceil":
            index = torch.floor(x + 0.5)
        else:
            index = torch.floor(x) if nearest_mode == "floor" else torch.ceil(x)
        return index.clamp(0, size - 1).to(torch.int64)[:, None], torch.ones_like(x)[:, None]
    base = torch.floor(x)
    t = x - base
    if mode == "linear":
        offsets = torch.tensor([0, 1], dtype=torch.int64, device=x.device)
        weights = torch.stack([1 - t, t], 1)
    else:
        offsets = torch.tensor([-1, 0, 1, 2], dtype=torch.int64, device=x.device)
        distances = torch.stack([t + 1, t, 1 - t, 2 - t], 1)
        near = ((a + 2) * distances - (a + 3)) * distances * distances + 1
        far = ((a * distances - 5 * a) * distances + 8 * a) * distances - 4 * a
        weights = torch.where(distances <= 1, near, far)
    index = base.to(torch.int64)[:, None] + offsets[None, :]
    if mode == "cubic" and exclude_outside:
        weights = torch.where((index < 0) | (index >= size), torch.zeros_like(weights), weights)
        weights = weights / weights.sum(1, keepdim=True)
    return index.clamp(0, size - 1), weights


@converter("Resize", since=(11, 13, 18, 19), dtypes=FLOATS, prepare=_resize_attrs, checked=(0,))
def resize(x, roi=None, scales=None, sizes=None, *, mode="nearest", coordinates="half_pixel",
           nearest_mode="round_prefer_floor", cubic_a=-0.75, exclude_outside=0, axes=None):
    rank = x.dim()
    axes = [a + rank if a < 0 else a for a in axes] if axes is not None else list(range(rank))
    if sizes is not None and sizes.numel() > 0:
        lengths = [int(v) for v in sizes.tolist()]
        factors = [length / x.shape[a] for a, length in zip(axes, lengths)]
    else:
        factors = [float(v) for v in scales.tolist()]
        lengths = [math.floor(x.shape[a] * f) for a, f in zip(axes, factors)]
    y = x
    for axis, length, scale in zip(axes, lengths, factors):
        size = x.shape[axis]
        if length == size and scale == 1.0:
            continue
        out = torch.arange(length, dtype=torch.float64, device=x.device)
        coordinate = _source(coordinates, out, scale, size, length)
        if mode != "nearest":
            coordinate = coordinate.clamp(0, size - 1) if mode == "linear" else coordinate
        index, weights = _taps(mode, coordinate, size, nearest_mode, cubic_a, exclude_outside)
        picked = y.index_select(axis, index.reshape(-1))
        shape = list(y.shape)
        shape[axis:axis + 1] = [length, index.shape[1]]
        picked = picked.reshape(shape)
        if index.shape[1] == 1:
            y = picked.squeeze(axis + 1)
        else:
            w = weights.to(y.dtype).reshape([length, index.shape[1]] + [1] * (rank - axis - 1))
            y = (picked * w).sum(axis + 1)
    return y
