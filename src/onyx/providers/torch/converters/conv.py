"""Convolutions and pooling (1-D to 3-D). Padding the spec writes per side (asymmetric, or
SAME_* computed from the input's shape when the module runs) is applied with F.pad."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from onyx.providers.torch.converters.registry import FLOATS, NodeInfo, converter, plain, text

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _window_attrs(info: NodeInfo, allowed: set[str]) -> dict | None:
    """The attributes every windowed op shares, normalized; None for an input it cannot do."""
    rank = info.rank(0)
    if rank is None and "kernel_shape" in info.attrs:
        rank = len(info.attrs["kernel_shape"]) + 2
    if rank is None and info.node.op_type in ("Conv", "ConvTranspose"):
        rank = info.rank(1)
    if rank is None or not 3 <= rank <= 5 or set(info.attrs) - allowed:
        return None
    spatial = rank - 2
    auto_pad = text(info.attrs.get("auto_pad"), "NOTSET")
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        return None
    kwargs = {
        "auto_pad": auto_pad,
        "strides": plain(info.attrs.get("strides", [1] * spatial)),
        "dilations": plain(info.attrs.get("dilations", [1] * spatial)),
        "pads": plain(info.attrs.get("pads", [0] * 2 * spatial)),
    }
    if "kernel_shape" in info.attrs:
        kwargs["kernel_shape"] = plain(info.attrs["kernel_shape"])
    return kwargs


def _pads(x: torch.Tensor, kernel, strides, dilations, pads, auto_pad) -> list[int]:
    """[begin_1, ..., begin_n, end_1, ..., end_n] as the spec computes them for ``x``."""
    spatial = len(kernel)
    if auto_pad == "VALID":
        return [0] * 2 * spatial
    if auto_pad == "NOTSET":
        return list(pads)
    begins, ends = [], []
    for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small = total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else total - small)
        ends.append(total - small if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _torch_pad(pads: list[int]) -> list[int]:
    """ONNX's [b1..bn, e1..en] as F.pad's (last axis first) [bn, en, ..., b1, e1]."""
    n = len(pads) // 2
    return [p for i in reversed(range(n)) for p in (pads[i], pads[n + i])]


def _conv_attrs(info: NodeInfo) -> dict | None:
    kwargs = _window_attrs(info, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
    if kwargs is None or len(set(info.input_dtypes)) != 1:
        return None
    kwargs["group"] = int(info.attrs.get("group", 1))
    kwargs.pop("kernel_shape", None)  # the weight's shape says it
    return kwargs


@converter("Conv", since=(1, 11, 22), dtypes=FLOATS, prepare=_conv_attrs)
def conv(x, w, b=None, *, auto_pad="NOTSET", strides=(1,), dilations=(1,), pads=(0,), group=1):
    spatial = x.dim() - 2
    full = _pads(x, w.shape[2:], strides, dilations, pads, auto_pad)
    begins, ends = full[:spatial], full[spatial:]
    if begins != ends:
        x = F.pad(x, _torch_pad(full))
        begins = [0] * spatial
    return _CONV[spatial](x, w, b, strides, begins, dilations, group)


def _conv_transpose_attrs(info: NodeInfo) -> dict | None:
    kwargs = _window_attrs(info, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                                  "output_padding", "output_shape"})
    if kwargs is None or len(set(info.input_dtypes)) != 1:
        return None
    spatial = len(kwargs["strides"])
    kwargs.pop("kernel_shape", None)
    kwargs["group"] = int(info.attrs.get("group", 1))
    kwargs["output_padding"] = plain(info.attrs.get("output_padding", [0] * spatial))
    if "output_shape" in info.attrs:
        kwargs["output_shape"] = plain(info.attrs["output_shape"])[-spatial:]
    return kwargs


@converter("ConvTranspose", since=(1, 11, 22), dtypes=FLOATS, prepare=_conv_transpose_attrs)
def conv_transpose(x, w, b=None, *, auto_pad="NOTSET", strides=(1,), dilations=(1,), pads=(0,), group=1,
                   output_padding=(0,), output_shape=None):
    spatial = x.dim() - 2
    full = _CONV_T[spatial](x, w, None, strides, 0, 0, group, dilations)
    kernel = w.shape[2:]
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [size * s for size, s in zip(x.shape[2:], strides)]
    if output_shape is not None:
        begins, ends = [], []
        for size, k, s, d, extra, out in zip(x.shape[2:], kernel, strides, dilations, output_padding, output_shape):
            total = s * (size - 1) + extra + (k - 1) * d + 1 - out
            upper = auto_pad == "SAME_UPPER"
            begins.append(total // 2 if upper else total - total // 2)
            ends.append(total - total // 2 if upper else total // 2)
    elif auto_pad == "VALID":
        begins, ends = [0] * spatial, [0] * spatial
    else:
        begins, ends = list(pads[:spatial]), list(pads[spatial:])
    # output_padding adds rows at the end that no input reaches; the pads crop
    crop = [-p for p in begins] + [extra - p for extra, p in zip(output_padding, ends)]
    y = F.pad(full, _torch_pad(crop))
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * spatial)
    return y


def _without_windows_on_pads(y: torch.Tensor, x: torch.Tensor, strides, pads) -> torch.Tensor:
    """``y`` pooled with ceil_mode from ``x`` padded by ``pads``, less a last window that starts
    in the end padding (the spec drops it; torch keeps it when the padding is part of its input)."""
    spatial = x.dim() - 2
    for i in range(spatial):
        size, s, begin = x.shape[2 + i], strides[i], pads[i]
        count = y.shape[2 + i]
        if count > 0 and (count - 1) * s >= size + begin:
            y = y.narrow(2 + i, 0, count - 1)
    return y


def _pool_attrs(info: NodeInfo, allowed: set[str]) -> dict | None:
    kwargs = _window_attrs(info, allowed)
    if kwargs is None or "kernel_shape" not in kwargs or info.num_outputs != 1:
        return None
    kwargs["ceil_mode"] = int(info.attrs.get("ceil_mode", 0))
    return kwargs


def _max_pool_attrs(info: NodeInfo) -> dict | None:
    kwargs = _pool_attrs(info, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"})
    if kwargs is None:
        return None
    return kwargs


@converter("MaxPool", since=(1, 8, 10, 11, 12, 22), dtypes=FLOATS, prepare=_max_pool_attrs)
def max_pool(x, *, kernel_shape, auto_pad="NOTSET", strides=(1,), dilations=(1,), pads=(0,), ceil_mode=0):
    spatial = x.dim() - 2
    full = _pads(x, kernel_shape, strides, dilations, pads, auto_pad)
    if not any(full):
        return _MAX[spatial](x, kernel_shape, strides, 0, dilations, bool(ceil_mode))
    y = _MAX[spatial](F.pad(x, _torch_pad(full), value=float("-inf")), kernel_shape, strides, 0, dilations,
                      bool(ceil_mode))
    return _without_windows_on_pads(y, x, strides, full) if ceil_mode else y


def _avg_pool_attrs(info: NodeInfo) -> dict | None:
    kwargs = _pool_attrs(info, {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape",
                                "pads", "strides"})
    if kwargs is None or any(d != 1 for d in kwargs["dilations"]):
        return None
    del kwargs["dilations"]
    kwargs["count_include_pad"] = int(info.attrs.get("count_include_pad", 0))
    return kwargs


@converter("AveragePool", since=(1, 7, 10, 11, 19, 22), dtypes=FLOATS, prepare=_avg_pool_attrs)
def average_pool(x, *, kernel_shape, auto_pad="NOTSET", strides=(1,), pads=(0,), ceil_mode=0, count_include_pad=0):
    """The mean of each window over the cells it counts: the input's, and the pads' when
    count_include_pad (cells a ceil_mode window hangs past never count)."""
    spatial = x.dim() - 2
    full = _pads(x, kernel_shape, strides, [1] * spatial, pads, auto_pad)
    pool = _AVG[spatial]
    if not any(full):
        return pool(x, kernel_shape, strides, 0, bool(ceil_mode), True)
    padded = F.pad(x, _torch_pad(full))
    ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
    counted = F.pad(ones, _torch_pad(full), value=1.0 if count_include_pad else 0.0)
    y = pool(padded, kernel_shape, strides, 0, bool(ceil_mode), True) / pool(
        counted, kernel_shape, strides, 0, bool(ceil_mode), True)
    return _without_windows_on_pads(y, x, strides, full) if ceil_mode else y


@converter("GlobalAveragePool", since=(1, 22), dtypes=FLOATS)
def global_average_pool(x):
    return torch.mean(x, tuple(range(2, x.dim())), keepdim=True)


@converter("GlobalMaxPool", since=(1, 22), dtypes=FLOATS)
def global_max_pool(x):
    return torch.amax(x, tuple(range(2, x.dim())), keepdim=True)
