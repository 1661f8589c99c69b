"""onnxruntime's com.microsoft.nchwc operators, on onyx's logical layout.

onnxruntime holds their tensors in blocks of channels; onyx holds the same values as plain
(N, C, H, W) arrays whose channel count is rounded up to the block size (see
onyx.optimizer.nchwc, which rewrites the two operators that depend on the block size, Conv
and ReorderInput, at load). On that layout the pools are the standard ones, ReorderOutput
drops the padding channels and Upsample is an integer-factor Resize.
"""

from __future__ import annotations

import numpy as np

from onyx.ops.pool import average_pool, global_average_pool, global_max_pool, max_pool
from onyx.ops.registry import kernel
from onyx.ops.resize import _resize, _str

NCHWC = "com.microsoft.nchwc"


@kernel("ReorderOutput", since=1, domain=NCHWC)
def reorder_output(x, *, channels=0, channels_last=0):
    """The first ``channels`` channels, in NCHW or (channels_last) NHWC order."""
    if channels <= 0 or channels > x.shape[1]:
        raise ValueError(f"ReorderOutput: channels={channels} does not fit an input of {x.shape[1]} channels")
    y = x[:, :channels]
    return np.ascontiguousarray(np.moveaxis(y, 1, -1) if channels_last else y)


@kernel("MaxPool", since=1, domain=NCHWC)
def nchwc_max_pool(x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
                   storage_order=0, strides=None):
    return max_pool(x, 1, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations, kernel_shape=kernel_shape,
                    pads=pads, storage_order=storage_order, strides=strides)


@kernel("AveragePool", since=1, domain=NCHWC)
def nchwc_average_pool(x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                       kernel_shape=None, pads=None, strides=None):
    return average_pool(x, auto_pad=auto_pad, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                        dilations=dilations, kernel_shape=kernel_shape, pads=pads, strides=strides)


@kernel("GlobalMaxPool", since=1, domain=NCHWC)
def nchwc_global_max_pool(x):
    return global_max_pool(x)


@kernel("GlobalAveragePool", since=1, domain=NCHWC)
def nchwc_global_average_pool(x):
    return global_average_pool(x)


@kernel("Upsample", since=1, domain=NCHWC)
def nchwc_upsample(x, *, scales=None, mode="nearest", coordinate_transformation_mode="asymmetric"):
    """Each axis scaled by its integer factor in ``scales`` (nearest rounds source positions down)."""
    if scales is None or len(scales) != x.ndim or min(scales) < 1:
        raise ValueError(f"Upsample needs one positive integer scale per axis, got {scales}")
    return _resize(x, None, np.asarray(scales, np.float32), None, mode=_str(mode),
                   coordinate_transformation_mode=_str(coordinate_transformation_mode), nearest_mode="floor",
                   cubic_coeff_a=-0.75, exclude_outside=False, antialias=False)
