"""Resize and Upsample: separable per-axis interpolation.

Each resized axis gets precomputed gather indices and weights of shape
(out_len, taps); the tensor is then interpolated one axis at a time with
``np.take`` and a weighted sum over the (few) taps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axes


@dataclass
class _AxisPlan:
    """How to fill one output axis: gather ``indices`` (out, taps), mix with ``weights`` (or pick when None)."""

    indices: np.ndarray
    weights: np.ndarray | None
    outside: np.ndarray | None  # (out,) bool, tf_crop_and_resize points outside the input


def _original_coords(
    mode: str, in_len: int, out_len: int, scale: float, roi: tuple[float, float] | None
) -> np.ndarray:
    """x_original for every x_resized in [0, out_len), per coordinate_transformation_mode.

    ``length`` is the (possibly fractional) resized length in_len * scale, as the spec's output_width.
    """
    # float32 arithmetic like onnxruntime, so nearest-mode ties round the same way
    x = np.arange(out_len, dtype=np.float32)
    scale = np.float32(scale)
    length = scale * np.float32(in_len)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / length)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if length != 1 else np.zeros(out_len)
    if mode == "align_corners":
        return x * ((in_len - 1) / (length - 1)) if length != 1 else np.zeros(out_len)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length != 1:
            return start * (in_len - 1) + x * ((end - start) * (in_len - 1) / (length - 1))
        return np.full(out_len, 0.5 * (start + end) * (in_len - 1))
    raise ValueError(f"unknown coordinate_transformation_mode '{mode}'")


def _nearest_index(coords: np.ndarray, nearest_mode: str) -> np.ndarray:
    """The input index nearest to each x_original, per nearest_mode."""
    if nearest_mode == "round_prefer_floor":
        return np.ceil(coords - 0.5)
    if nearest_mode == "round_prefer_ceil":
        return np.floor(coords + 0.5)
    if nearest_mode == "floor":
        return np.floor(coords)
    if nearest_mode == "ceil":
        return np.ceil(coords)
    raise ValueError(f"unknown nearest_mode '{nearest_mode}'")


def _cubic_kernel(distance: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with coefficient ``a``."""
    d = np.abs(distance)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _linear_kernel(distance: np.ndarray) -> np.ndarray:
    return np.clip(1 - np.abs(distance), 0, None)


def _filter_taps(
    coords: np.ndarray, in_len: int, mode: str, scale: float, cubic_coeff_a: float,
    exclude_outside: bool, antialias: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Gather indices and normalized weights (out, taps) of the linear or cubic filter."""
    support = 1.0 if mode == "linear" else 2.0
    stretch = 1.0 / scale if antialias and scale < 1 else 1.0
    base = np.floor(coords)
    first = int(np.floor(-support * stretch)) + 1
    offsets = np.arange(first, 1 - first + 1, dtype=np.float64)
    positions = base[:, None] + offsets  # (out, taps)
    distance = (positions - coords[:, None]) / stretch
    weights = _linear_kernel(distance) if mode == "linear" else _cubic_kernel(distance, cubic_coeff_a)
    if antialias and stretch > 1:
        weights /= weights.sum(axis=1, keepdims=True)
    if exclude_outside:
        weights = np.where((positions < 0) | (positions > in_len - 1), 0.0, weights)
        weights /= weights.sum(axis=1, keepdims=True)
    indices = np.clip(positions, 0, in_len - 1).astype(np.intp)
    return indices, weights


def _axis_plan(
    in_len: int, out_len: int, scale: float, roi: tuple[float, float] | None, *,
    mode: str, coordinate_transformation_mode: str, nearest_mode: str, cubic_coeff_a: float,
    exclude_outside: bool, antialias: bool,
) -> _AxisPlan | None:
    """The interpolation of one axis, or None when it maps every input index onto itself."""
    coords = _original_coords(coordinate_transformation_mode, in_len, out_len, scale, roi)
    outside = None
    if coordinate_transformation_mode == "tf_crop_and_resize":
        outside = (coords < 0) | (coords > in_len - 1)
        if not outside.any():
            outside = None
    if outside is None and out_len == in_len and np.array_equal(coords, np.arange(in_len)):
        return None
    if mode == "nearest":
        indices = np.clip(_nearest_index(coords, nearest_mode), 0, in_len - 1).astype(np.intp)
        return _AxisPlan(indices[:, None], None, outside)
    if mode not in ("linear", "cubic"):
        raise ValueError(f"unknown Resize mode '{mode}'")
    indices, weights = _filter_taps(coords, in_len, mode, scale, cubic_coeff_a, exclude_outside, antialias)
    return _AxisPlan(indices, weights, outside)


def _apply_axis(x: np.ndarray, axis: int, plan: _AxisPlan, compute: np.dtype) -> np.ndarray:
    """Interpolate ``x`` along ``axis`` with ``plan``'s taps."""
    if plan.weights is None:
        return np.take(x, plan.indices[:, 0], axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    weights = plan.weights.astype(compute)
    out = None
    for tap in range(plan.indices.shape[1]):
        w = weights[:, tap]
        if not w.any():
            continue
        term = np.take(x, plan.indices[:, tap], axis=axis) * w.reshape(shape)
        out = term if out is None else np.add(out, term, out=out)
    return out


def _interpolate(x: np.ndarray, out_shape: list[int], scales: list[float], rois: list, *,
                 extrapolation_value: float = 0.0, **options) -> np.ndarray:
    """Resize ``x`` to ``out_shape``, axis by axis; ``rois`` holds (start, end) or None per axis."""
    compute = np.result_type(x.dtype, np.float32) if options["mode"] != "nearest" else x.dtype
    y = x.astype(compute, copy=False)
    outside_masks = []
    # resize the axes that shrink first so later axes work on less data
    order = sorted(range(x.ndim), key=lambda d: out_shape[d] / max(x.shape[d], 1))
    for axis in order:
        plan = _axis_plan(x.shape[axis], out_shape[axis], scales[axis], rois[axis], **options)
        if plan is None:
            continue
        y = _apply_axis(y, axis, plan, compute)
        if plan.outside is not None:
            shape = [1] * x.ndim
            shape[axis] = -1
            outside_masks.append(plan.outside.reshape(shape))
    if outside_masks:
        mask = np.logical_or.reduce(np.broadcast_arrays(*outside_masks)) if len(outside_masks) > 1 \
            else outside_masks[0]
        y = np.where(mask, compute.type(extrapolation_value), y)
    if y.dtype == x.dtype:
        return y if y is not x else y.copy()
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        y = np.clip(np.rint(y), info.min, info.max)
    return y.astype(x.dtype)


def _output_geometry(
    shape: tuple[int, ...], scales, sizes, axes, keep_aspect_ratio_policy: str
) -> tuple[list[int], list[float]]:
    """Output shape and the per-axis scale the coordinate transform uses."""
    rank = len(shape)
    axes = list(range(rank)) if axes is None else list(normalize_axes(axes, rank))
    out_shape, out_scales = list(shape), [1.0] * rank
    if sizes is not None and np.asarray(sizes).size:
        sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
        if len(sizes) != len(axes):
            raise ValueError(f"Resize got {len(sizes)} sizes for {len(axes)} axes")
        ratios = [int(s) / shape[d] for s, d in zip(sizes, axes)]
        if keep_aspect_ratio_policy == "stretch":
            for d, s, r in zip(axes, sizes, ratios):
                out_shape[d], out_scales[d] = int(s), r
        elif keep_aspect_ratio_policy in ("not_larger", "not_smaller"):
            scale = min(ratios) if keep_aspect_ratio_policy == "not_larger" else max(ratios)
            for d in axes:
                out_shape[d], out_scales[d] = int(scale * shape[d] + 0.5), scale
        else:
            raise ValueError(f"unknown keep_aspect_ratio_policy '{keep_aspect_ratio_policy}'")
    elif scales is not None and np.asarray(scales).size:
        scales = np.asarray(scales).reshape(-1)
        if len(scales) != len(axes):
            raise ValueError(f"Resize got {len(scales)} scales for {len(axes)} axes")
        if (scales <= 0).any():
            raise ValueError(f"Resize scales must be positive, got {scales.tolist()}")
        # the product is taken in the scales' own precision, as onnxruntime does (0.45f * 20 is 9)
        lengths = np.floor(scales * np.asarray([shape[d] for d in axes], dtype=scales.dtype))
        for d, s, length in zip(axes, scales, lengths):
            out_shape[d], out_scales[d] = int(length), float(s)
    else:
        raise ValueError("Resize needs either 'scales' or 'sizes'")
    return out_shape, out_scales


def _rois(roi, rank: int, axes) -> list:
    """(start, end) per axis from the [starts..., ends...] roi tensor (None for axes it leaves out)."""
    axes = list(range(rank)) if axes is None else list(normalize_axes(axes, rank))
    rois: list = [(0.0, 1.0)] * rank
    if roi is not None and np.asarray(roi).size:
        roi = np.asarray(roi, dtype=np.float64).reshape(-1)
        if len(roi) != 2 * len(axes):
            raise ValueError(f"Resize roi has {len(roi)} values, expected {2 * len(axes)}")
        for i, d in enumerate(axes):
            rois[d] = (float(roi[i]), float(roi[i + len(axes)]))
    return rois


def _resize(x, roi, scales, sizes, *, axes=None, keep_aspect_ratio_policy="stretch", **options):
    if x.ndim == 0:
        raise ValueError("Resize needs an input of rank >= 1")
    out_shape, out_scales = _output_geometry(x.shape, scales, sizes, axes, keep_aspect_ratio_policy)
    return _interpolate(x, out_shape, out_scales, _rois(roi, x.ndim, axes), **options)


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@kernel("Resize", since=(11, 18))
def resize(
    x, roi=None, scales=None, sizes=None, *, antialias=0, axes=None, coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
    mode="nearest", nearest_mode="round_prefer_floor",
):
    """Resize-11 to 19 (18 adds antialias, axes and keep_aspect_ratio_policy, 19 the half_pixel_symmetric
    transform)."""
    mode = _str(mode)
    if antialias and mode == "nearest":
        antialias = 0
    return _resize(
        x, roi, scales, sizes, axes=axes, keep_aspect_ratio_policy=_str(keep_aspect_ratio_policy), mode=mode,
        coordinate_transformation_mode=_str(coordinate_transformation_mode), nearest_mode=_str(nearest_mode),
        cubic_coeff_a=float(cubic_coeff_a), exclude_outside=bool(exclude_outside), antialias=bool(antialias),
        extrapolation_value=float(extrapolation_value),
    )


def _upsample(x, scales, mode) -> np.ndarray:
    """Resize-10/Upsample semantics: x_original = x_resized / scale, nearest rounds down."""
    mode = _str(mode)
    if mode == "bilinear":
        mode = "linear"
    return _resize(x, None, scales, None, mode=mode, coordinate_transformation_mode="asymmetric",
                   nearest_mode="floor", cubic_coeff_a=-0.75, exclude_outside=False, antialias=False)


@kernel("Upsample", since=9)
@kernel("Resize", since=10)
def upsample(x, scales, *, mode="nearest"):
    """Resize-10 is Upsample-9 renamed."""
    return _upsample(x, scales, mode)


@kernel("Upsample", since=7)
def upsample_7(x, *, mode="nearest", scales=None):
    if scales is None:
        raise ValueError("Upsample-7 needs the 'scales' attribute")
    return _upsample(x, scales, mode)
