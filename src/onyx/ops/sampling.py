"""Spatial sampling: GridSample, AffineGrid, RoiAlign, NonMaxSuppression."""

from __future__ import annotations

import itertools

import numpy as np

from onyx.ops.registry import kernel

_CUBIC_A = -0.75


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- GridSample -----------------------------------------------------------------------


def _denormalize(g: np.ndarray, length: int, align_corners: bool) -> np.ndarray:
    """Grid values in [-1, 1] as pixel coordinates along an axis of ``length``."""
    if align_corners:
        return (g + 1) / 2 * (length - 1)
    return ((g + 1) * length - 1) / 2


def _reflect(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect coordinates at the borders ``low`` and ``high`` until they fall inside."""
    span = high - low
    if span <= 0:
        return np.full_like(x, low)
    distance = np.where(x < low, low - x, x - high)
    flips = np.floor(distance / span)
    rest = distance - flips * span
    even = flips % 2 == 0
    below = np.where(even, low + rest, high - rest)
    above = np.where(even, high - rest, low + rest)
    return np.where(x < low, below, np.where(x > high, above, x))


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """Keys' cubic weights of the taps at -1, 0, 1, 2 for a fractional offset ``t`` in [0, 1)."""
    a = _CUBIC_A

    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _axis_taps(coord: np.ndarray, length: int, mode: str, padding_mode: str, low: float, high: float):
    """(index, weight) pairs of one spatial axis; weights already zeroed for 'zeros' padding."""
    if mode == "nearest":
        base, offsets, weights = coord, [0], [np.ones_like(coord)]
    else:
        base = np.floor(coord)
        t = coord - base
        if mode == "linear":
            offsets, weights = [0, 1], [1 - t, t]
        else:
            offsets, weights = [-1, 0, 1, 2], _cubic_weights(t)
    taps = []
    for offset, weight in zip(offsets, weights):
        index = base + offset
        if padding_mode == "zeros":
            weight = np.where((index >= 0) & (index < length), weight, 0)
        elif padding_mode == "reflection":
            index = np.where((index < 0) | (index >= length), _reflect(index, low, high), index)
        taps.append((np.clip(index, 0, length - 1).astype(np.intp), weight))
    return taps


def _grid_sample(x: np.ndarray, grid: np.ndarray, mode: str, padding_mode: str, align_corners: bool) -> np.ndarray:
    n, c, *spatial = x.shape
    rank = len(spatial)
    if grid.shape[0] != n or grid.shape[-1] != rank:
        raise ValueError(f"GridSample grid of shape {grid.shape} does not match input {x.shape}")
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"unknown GridSample mode '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"unknown GridSample padding_mode '{padding_mode}'")
    out_spatial = grid.shape[1:-1]
    points = grid.reshape(n, -1, rank)
    compute = np.result_type(x.dtype, np.float32)
    per_axis = []
    flat_stride = 1
    strides = []
    for axis in reversed(range(rank)):
        strides.append(flat_stride)
        flat_stride *= spatial[axis]
    strides = strides[::-1]
    for axis, length in enumerate(spatial):
        coord = _denormalize(points[..., rank - 1 - axis], length, align_corners)
        if mode == "nearest":
            coord = np.rint(coord)
        low, high = (0.0, length - 1.0) if align_corners else (-0.5, length - 0.5)
        outside = (coord < low) | (coord > high)
        if padding_mode == "border":
            coord = np.where(outside, np.clip(coord, 0, length - 1), coord)
        elif padding_mode == "reflection":
            coord = np.where(outside, _reflect(coord, low, high), coord)
        if mode == "nearest":
            coord = np.trunc(coord)
        per_axis.append(_axis_taps(coord, length, mode, padding_mode, low, high))
    # channels-last so each gather fetches contiguous channel vectors
    source = np.ascontiguousarray(x.reshape(n, c, -1).transpose(0, 2, 1)).astype(compute, copy=False)
    batch = np.arange(n)[:, None]
    out = np.zeros((n, points.shape[1], c), dtype=compute)
    for combo in itertools.product(*per_axis):
        flat = sum(index * stride for (index, _), stride in zip(combo, strides))
        weight = np.prod([w for _, w in combo], axis=0).astype(compute)
        out += source[batch, flat] * weight[..., None]
    return out.transpose(0, 2, 1).reshape(n, c, *out_spatial).astype(x.dtype, copy=False)


@kernel("GridSample", since=16)
def grid_sample_16(x, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    """Opset-16 names the modes bilinear/nearest/bicubic and supports 4-D inputs only."""
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(_str(mode), _str(mode))
    return _grid_sample(x, grid, mode, _str(padding_mode), bool(align_corners))


@kernel("GridSample", since=20)
def grid_sample_20(x, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    return _grid_sample(x, grid, _str(mode), _str(padding_mode), bool(align_corners))


# -- AffineGrid -----------------------------------------------------------------------


def _base_positions(length: int, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """Evenly spaced normalized positions of the pixel centers along an axis."""
    if align_corners:
        return np.linspace(-1, 1, length, dtype=dtype) if length > 1 else np.zeros(length, dtype)
    return ((2 * np.arange(length, dtype=dtype) + 1) / length - 1).astype(dtype)


@kernel("AffineGrid", since=20)
def affine_grid(theta, size, *, align_corners=0):
    """Grid (N, *spatial, r) of theta applied to the normalized positions (x, y[, z], 1)."""
    size = [int(s) for s in np.asarray(size).reshape(-1)]
    spatial = size[2:]
    rank = len(spatial)
    if theta.shape[1:] != (rank, rank + 1):
        raise ValueError(f"AffineGrid theta of shape {theta.shape} does not fit size {size}")
    axes = [_base_positions(length, bool(align_corners), theta.dtype) for length in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    # homogeneous positions ordered (x, y, z, 1): the last spatial axis first
    positions = np.stack([*reversed(mesh), np.ones_like(mesh[0])], axis=-1).reshape(-1, rank + 1)
    grid = np.einsum("pk,njk->npj", positions, theta)
    return grid.reshape(size[0], *spatial, rank).astype(theta.dtype, copy=False)


# -- RoiAlign -------------------------------------------------------------------------


def _roi_axis_samples(start, extent, pooled: int, grid: np.ndarray, grid_max: int, length: int):
    """Bilinear taps of the sample points along one axis for every roi.

    Returns low/high indices and their weights, each (R, pooled, grid_max); weights are zero for
    samples beyond a roi's grid or outside [-1, length].
    """
    bin_size = extent / pooled
    p = np.arange(pooled)[None, :, None]
    i = np.arange(grid_max)[None, None, :]
    pos = start[:, None, None] + p * bin_size[:, None, None] + (i + 0.5) * (bin_size / grid)[:, None, None]
    valid = (i < grid[:, None, None]) & (pos >= -1.0) & (pos <= length)
    pos = np.maximum(pos, 0)
    low = np.floor(pos).astype(np.intp)
    at_end = low >= length - 1
    low = np.where(at_end, length - 1, low)
    high = np.where(at_end, length - 1, low + 1)
    frac = np.where(at_end, 0.0, pos - low)
    return low, high, np.where(valid, 1 - frac, 0.0), np.where(valid, frac, 0.0)


def _roi_align(x, rois, batch_indices, *, mode, output_height, output_width, sampling_ratio, spatial_scale,
               half_pixel: bool) -> np.ndarray:
    n, c, height, width = x.shape
    rois = np.asarray(rois, dtype=np.float64).reshape(-1, 4)
    batch_indices = np.asarray(batch_indices, dtype=np.intp).reshape(-1)
    if len(batch_indices) != len(rois):
        raise ValueError("RoiAlign needs one batch index per roi")
    offset = 0.5 if half_pixel else 0.0
    start_w, start_h, end_w, end_h = (rois[:, k] * spatial_scale - offset for k in range(4))
    roi_w, roi_h = end_w - start_w, end_h - start_h
    if not half_pixel:
        roi_w, roi_h = np.maximum(roi_w, 1.0), np.maximum(roi_h, 1.0)
    if sampling_ratio > 0:
        grid_h = np.full(len(rois), sampling_ratio)
        grid_w = np.full(len(rois), sampling_ratio)
    else:
        grid_h = np.ceil(roi_h / output_height).astype(np.int64)
        grid_w = np.ceil(roi_w / output_width).astype(np.int64)
    gh, gw = max(int(grid_h.max(initial=0)), 1), max(int(grid_w.max(initial=0)), 1)
    y_lo, y_hi, wy_lo, wy_hi = _roi_axis_samples(start_h, roi_h, output_height, grid_h, gh, height)
    x_lo, x_hi, wx_lo, wx_hi = _roi_axis_samples(start_w, roi_w, output_width, grid_w, gw, width)
    compute = np.result_type(x.dtype, np.float32)
    source = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(compute, copy=False)  # (N, H, W, C)
    b = batch_indices[:, None, None]
    out = None
    # sample (iy, ix) of every bin at once; R x PH x PW x C per gather
    for iy, ix in itertools.product(range(gh), range(gw)):
        taps = []
        for yi, wy in ((y_lo[..., iy], wy_lo[..., iy]), (y_hi[..., iy], wy_hi[..., iy])):
            for xi, wx in ((x_lo[..., ix], wx_lo[..., ix]), (x_hi[..., ix], wx_hi[..., ix])):
                weight = (wy[:, :, None] * wx[:, None, :]).astype(compute)
                taps.append(source[b, yi[:, :, None], xi[:, None, :]] * weight[..., None])
        if mode == "avg":
            value = sum(taps)
            out = value if out is None else out + value
        else:
            value = np.maximum.reduce(taps)
            present = ((iy < grid_h) & (ix < grid_w))[:, None, None, None]
            if out is None:
                out = value
            else:
                out = np.where(present, np.maximum(out, value), out)
    if mode == "avg":
        count = np.maximum(grid_h * grid_w, 1).astype(compute)
        out = out / count[:, None, None, None]
    elif mode != "max":
        raise ValueError(f"unknown RoiAlign mode '{mode}'")
    return out.transpose(0, 3, 1, 2).astype(x.dtype, copy=False)


@kernel("RoiAlign", since=10)
def roi_align_10(x, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0,
                 spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, mode=_str(mode), output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale,
                      half_pixel=False)


@kernel("RoiAlign", since=16)
def roi_align_16(x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
                 output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    transform = _str(coordinate_transformation_mode)
    if transform not in ("half_pixel", "output_half_pixel"):
        raise ValueError(f"unknown RoiAlign coordinate_transformation_mode '{transform}'")
    return _roi_align(x, rois, batch_indices, mode=_str(mode), output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale,
                      half_pixel=transform == "half_pixel")


# -- NonMaxSuppression ----------------------------------------------------------------


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """Boxes as (y_min, x_min, y_max, x_max)."""
    boxes = boxes.astype(np.float64)
    if center_point_box:
        xc, yc, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)
    y1, x1, y2, x2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return np.stack([np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)], axis=-1)


def _iou_matrix(boxes: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of (K, 4) corner boxes; 0 where a box or the union is empty."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    top_left = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    extent = np.clip(bottom_right - top_left, 0, None)
    inter = extent[..., 0] * extent[..., 1]
    union = area[:, None] + area[None, :] - inter
    ok = (area[:, None] > 0) & (area[None, :] > 0) & (union > 0) & (inter > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, inter / union, 0.0)


def _greedy_select(boxes: np.ndarray, scores: np.ndarray, limit: int, iou_threshold: float,
                   score_threshold: float | None) -> list[int]:
    """Indices kept by greedy NMS, in descending score order (ties: lower index first)."""
    candidates = np.flatnonzero(scores > score_threshold) if score_threshold is not None else np.arange(len(scores))
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    iou = _iou_matrix(boxes[candidates])
    suppressed = np.zeros(len(candidates), dtype=bool)
    kept: list[int] = []
    for i in range(len(candidates)):
        if len(kept) >= limit:
            break
        if suppressed[i]:
            continue
        kept.append(int(candidates[i]))
        suppressed |= iou[i] > iou_threshold
    return kept


@kernel("NonMaxSuppression", since=10)
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None, score_threshold=None,
                        *, center_point_box=0):
    """Selected (batch, class, box) triples, ordered by batch, class, then selection."""
    limit = int(np.asarray(max_output_boxes_per_class).reshape(-1)[0]) \
        if max_output_boxes_per_class is not None and np.asarray(max_output_boxes_per_class).size else 0
    iou = float(np.asarray(iou_threshold).reshape(-1)[0]) \
        if iou_threshold is not None and np.asarray(iou_threshold).size else 0.0
    threshold = float(np.asarray(score_threshold).reshape(-1)[0]) \
        if score_threshold is not None and np.asarray(score_threshold).size else None
    corners = _corners(boxes, center_point_box)
    selected = []
    if limit > 0:
        for b, cls in np.ndindex(scores.shape[0], scores.shape[1]):
            for box in _greedy_select(corners[b], scores[b, cls], limit, iou, threshold):
                selected.append((b, cls, box))
    return np.array(selected, dtype=np.int64).reshape(-1, 3)
