"""Shape operators: shapes are read when the module runs, so dynamic shapes work; an input
that is a constant of the model is read once, at session creation."""

from __future__ import annotations

import math

import numpy as np
import torch

from onyx.providers.torch.converters.registry import INTEGERS, NUMERIC, NodeInfo, converter, plain, text
from onyx.providers.torch.dtypes import torch_dtype

INT64 = np.dtype(np.int64)


def _ints(value) -> list[int]:
    """A shape-like input (tensor or list) as Python ints."""
    return [int(v) for v in (value.reshape(-1).tolist() if isinstance(value, torch.Tensor) else value)]


def _no_attrs(info: NodeInfo) -> dict | None:
    return {} if not info.attrs else None


@converter("Shape", since=(1, 13, 15, 19, 21), dtypes=NUMERIC)
def shape(data, *, start=0, end=None):
    return torch.tensor(data.shape[start:end], dtype=torch.int64, device=data.device)


@converter("Size", since=(1, 13, 19, 21), dtypes=NUMERIC)
def size(data):
    return torch.tensor(data.numel(), dtype=torch.int64, device=data.device)


def _reshape_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"allowzero"}:
        return None
    kwargs = {"allowzero": int(info.attrs.get("allowzero", 0))}
    target = info.constant(1)
    if target is not None:
        kwargs["known"] = [int(v) for v in target.reshape(-1)]
    return kwargs


@converter("Reshape", since=(5, 13, 14, 19, 21), prepare=_reshape_attrs)
def reshape(data, shape, *, allowzero=0, known=None):
    target = known if known is not None else _ints(shape)
    if not allowzero:
        target = [data.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return data.reshape(target)


@converter("Flatten", since=(1, 9, 11, 13, 21))
def flatten(x, *, axis=1):
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _axes_input(info: NodeInfo, index: int, attribute_until: int) -> dict | None:
    """Squeeze/Unsqueeze/Reduce*: axes from the attribute (opsets before ``attribute_until``)
    or from input ``index``, read at creation when constant."""
    if info.opset < attribute_until:
        if set(info.attrs) - {"axes"}:
            return None
        return {"known": plain(info.attrs["axes"])} if "axes" in info.attrs else {}
    if info.attrs:
        return None
    axes = info.constant(index)
    return {"known": [int(a) for a in axes.reshape(-1)]} if axes is not None else {}


@converter("Squeeze", since=(1, 11, 13, 21), prepare=lambda info: _axes_input(info, 1, 13))
def squeeze(data, axes=None, *, known=None):
    dims = known if known is not None else (_ints(axes) if axes is not None else None)
    if dims is None:
        return data.squeeze()
    return data.squeeze(tuple(dims)) if dims else data


@converter("Unsqueeze", since=(1, 11, 13, 21), prepare=lambda info: _axes_input(info, 1, 13))
def unsqueeze(data, axes=None, *, known=None):
    dims = known if known is not None else _ints(axes)
    rank = data.dim() + len(dims)
    for axis in sorted(a + rank if a < 0 else a for a in dims):
        data = data.unsqueeze(axis)
    return data


@converter("Transpose", since=(1, 13, 21))
def transpose(data, *, perm=None):
    return data.permute(perm if perm is not None else list(range(data.dim() - 1, -1, -1)))


def _same_type(info: NodeInfo) -> dict | None:
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    if len(set(present)) != 1 or set(info.attrs) - {"axis"} or "axis" not in info.attrs:
        return None
    return {"axis": int(info.attrs["axis"])}


@converter("Concat", since=(4, 11, 13), prepare=_same_type)
def concat(*inputs, axis):
    return torch.cat(inputs, axis)


def _split_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "split", "num_outputs"}:
        return None
    kwargs = {"axis": int(info.attrs.get("axis", 0)), "count": info.num_outputs}
    if "split" in info.attrs:
        kwargs["known"] = plain(info.attrs["split"])
    elif info.opset >= 13 and info.has_input(1):
        split = info.constant(1)
        if split is None:
            return kwargs
        kwargs["known"] = [int(v) for v in split.reshape(-1)]
    return kwargs


@converter("Split", since=(2, 11, 13, 18), prepare=_split_attrs, multiple=True)
def split(x, split=None, *, axis=0, count=1, known=None):
    sizes = known if known is not None else (_ints(split) if split is not None else None)
    if sizes is None:
        length = x.shape[axis]
        chunk = -(-length // count)
        sizes = [min(chunk, max(length - i * chunk, 0)) for i in range(count)]
    return torch.split(x, sizes, axis)


def _slice_attrs(info: NodeInfo) -> dict | None:
    if info.opset < 10:
        if set(info.attrs) - {"starts", "ends", "axes"}:
            return None
        return {"known": [plain(info.attrs["starts"]), plain(info.attrs["ends"]),
                          plain(info.attrs.get("axes")) if "axes" in info.attrs else None, None]}
    if info.attrs:
        return None
    values = [info.constant(i) for i in range(1, 5)]
    if all(v is not None or not info.has_input(i + 1) for i, v in enumerate(values)):
        return {"known": [None if v is None else [int(a) for a in v.reshape(-1)] for v in values]}
    return {}


@converter("Slice", since=(1, 10, 11, 13), prepare=_slice_attrs)
def slice_(data, starts=None, ends=None, axes=None, steps=None, *, known=None):
    if known is not None:
        starts, ends, axes, steps = known
    else:
        starts, ends = _ints(starts), _ints(ends)
        axes = _ints(axes) if axes is not None else None
        steps = _ints(steps) if steps is not None else None
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = axis + data.dim() if axis < 0 else axis
        first, last, stride = slice(start, end, step).indices(data.shape[axis])
        if stride > 0:
            data = data[(slice(None),) * axis + (slice(first, max(first, last), stride),)]
        else:
            index = torch.arange(first, last, stride, device=data.device)
            data = data.index_select(axis, index)
    return data


@converter("Expand", since=(8, 13))
def expand(x, shape):
    return x.expand(torch.broadcast_shapes(x.shape, tuple(_ints(shape))))


@converter("Tile", since=(6, 13))
def tile(x, repeats):
    return x.repeat(_ints(repeats))


def _constant_of_shape_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"value"}:
        return None
    value = np.asarray(info.attrs.get("value", np.zeros(1, np.float32)))
    if value.dtype not in NUMERIC or value.size != 1:
        return None
    return {"value": value.reshape(-1)[0].item(), "dtype": torch_dtype(value.dtype)}


@converter("ConstantOfShape", since=(9, 20, 21), prepare=_constant_of_shape_attrs)
def constant_of_shape(shape, *, value=0.0, dtype=torch.float32):
    return torch.full(_ints(shape), value, dtype=dtype, device=shape.device)


def _constant_attrs(info: NodeInfo) -> dict | None:
    if len(info.attrs) != 1:
        return None
    (key, value), = info.attrs.items()
    if key == "value":
        array = np.asarray(value)
    elif key in ("value_float", "value_floats"):
        array = np.asarray(value, np.float32)
    elif key in ("value_int", "value_ints"):
        array = np.asarray(value, np.int64)
    else:
        return None
    return {"value": array} if array.dtype in NUMERIC else None


@converter("Constant", since=(1, 9, 11, 12, 13, 19, 21), prepare=_constant_attrs)
def constant(*, value):
    return value


@converter("Identity", since=(1, 13, 14, 16, 19, 21))
def identity(x):
    return x


def _range_types(info: NodeInfo) -> dict | None:
    return {} if len(set(info.input_dtypes)) == 1 and not info.attrs else None


@converter("Range", since=11, prepare=_range_types)
def range_(start, limit, delta):
    first, stop, step = start.item(), limit.item(), delta.item()
    count = max(math.ceil((stop - first) / step), 0)
    steps = torch.arange(count, dtype=torch.float64 if start.is_floating_point() else torch.int64, device=start.device)
    return (first + steps * step).to(start.dtype)


def _cast_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"to", "saturate", "round_mode"}:
        return None
    if "round_mode" in info.attrs and info.attrs["round_mode"] not in ("up", b"up"):
        return None
    target = info.output_dtypes[0]
    return {"dtype": torch_dtype(target)} if target in NUMERIC else None


@converter("Cast", since=(6, 9, 13, 19, 21, 23), prepare=_cast_attrs)
def cast(x, *, dtype):
    return x.to(dtype)


def _cast_like_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"saturate", "round_mode"}:
        return None
    return {"dtype": torch_dtype(info.input_dtypes[1])}


@converter("CastLike", since=(15, 19, 21, 23), prepare=_cast_like_attrs)
def cast_like(x, target_type, *, dtype):
    return x.to(dtype)


def _trilu_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"upper"}:
        return None
    return {"upper": int(info.attrs.get("upper", 1))}


@converter("Trilu", since=14, prepare=_trilu_attrs)
def trilu(x, k=None, *, upper=1):
    diagonal = int(k.item()) if k is not None else 0
    return torch.triu(x, diagonal) if upper else torch.tril(x, diagonal)


@converter("NonZero", since=(9, 13))
def nonzero(x):
    return torch.nonzero(x).T.contiguous() if x.dim() > 0 else torch.nonzero(x.reshape(1)).T[:0].contiguous()


def _depth_space_attrs(info: NodeInfo) -> dict | None:
    mode = text(info.attrs.get("mode"), "DCR")
    if set(info.attrs) - {"blocksize", "mode"} or mode not in ("DCR", "CRD") or info.rank(0) != 4:
        return None
    return {"blocksize": int(info.attrs["blocksize"]), "mode": mode}


@converter("DepthToSpace", since=(1, 11, 13), prepare=_depth_space_attrs)
def depth_to_space(x, *, blocksize, mode="DCR"):
    b, c, h, w = x.shape
    if mode == "DCR":
        y = x.reshape(b, blocksize, blocksize, c // blocksize**2, h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(b, c // blocksize**2, blocksize, blocksize, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(b, c // blocksize**2, h * blocksize, w * blocksize)


@converter("SpaceToDepth", since=(1, 13))
def space_to_depth(x, *, blocksize):
    b, c, h, w = x.shape
    y = x.reshape(b, c, h // blocksize, blocksize, w // blocksize, blocksize).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(b, c * blocksize**2, h // blocksize, w // blocksize)


def _eye_like_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"k", "dtype"} or info.rank(0) != 2:
        return None
    return {"k": int(info.attrs.get("k", 0)), "dtype": torch_dtype(info.output_dtypes[0])}


@converter("EyeLike", since=(9, 22), prepare=_eye_like_attrs)
def eye_like(x, *, k=0, dtype):
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    cols = torch.arange(x.shape[1], device=x.device)[None, :]
    return (cols - rows == k).to(dtype)


def _one_hot_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis"} or info.input_dtypes[0] not in INTEGERS:
        return None
    return {"axis": int(info.attrs.get("axis", -1))}


@converter("OneHot", since=(9, 11), prepare=_one_hot_attrs)
def one_hot(indices, depth, values, *, axis=-1):
    size = int(depth.item())
    index = torch.where(indices < 0, indices + size, indices).to(torch.int64)
    hot = index.unsqueeze(-1) == torch.arange(size, device=indices.device)
    rank = indices.dim() + 1
    hot = hot.movedim(-1, axis + rank if axis < 0 else axis)
    return torch.where(hot, values[1], values[0])


def _pad_attrs(info: NodeInfo) -> dict | None:
    mode = text(info.attrs.get("mode"), "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        return None
    if info.opset < 11:
        if set(info.attrs) - {"mode", "pads", "value"}:
            return None
        return {"mode": mode, "known": plain(info.attrs["pads"]), "value": float(info.attrs.get("value", 0.0))}
    if set(info.attrs) - {"mode"} or (info.has_input(2) and info.input_dtypes[2] != info.input_dtypes[0]):
        return None
    kwargs = {"mode": mode}
    pads = info.constant(1)
    if pads is not None:
        kwargs["known"] = [int(p) for p in pads.reshape(-1)]
    return kwargs


def _pad_indices(size: int, begin: int, end: int, mode: str, device) -> torch.Tensor:
    """Indices into an axis of ``size`` that edge, reflect or wrap padding reads."""
    positions = torch.arange(-begin, size + end, device=device)
    if mode == "edge":
        return positions.clamp(0, size - 1)
    if mode == "wrap":
        return positions.remainder(size)
    period = 2 * (size - 1)
    folded = positions.abs().remainder(period) if period else torch.zeros_like(positions)
    return torch.where(folded > size - 1, period - folded, folded)


@converter("Pad", since=(2, 11, 13, 18, 19, 21, 23, 24, 25), prepare=_pad_attrs)
def pad(data, pads=None, constant_value=None, axes=None, *, mode="constant", known=None, value=0.0):
    widths = known if known is not None else _ints(pads)
    rank = data.dim()
    chosen = [a + rank if a < 0 else a for a in _ints(axes)] if axes is not None else list(range(rank))
    n = len(chosen)
    begins, ends = [0] * rank, [0] * rank
    for i, axis in enumerate(chosen):
        begins[axis], ends[axis] = widths[i], widths[n + i]
    if mode == "constant":
        fill = constant_value.item() if constant_value is not None and constant_value.numel() else value
        flat = [p for axis in reversed(range(rank)) for p in (begins[axis], ends[axis])]
        return torch.nn.functional.pad(data, flat, value=fill)
    for axis in range(rank):
        begin, end = begins[axis], ends[axis]
        if begin < 0:
            data, begin = data.narrow(axis, -begin, data.shape[axis] + begin), 0
        if end < 0:
            data, end = data.narrow(axis, 0, data.shape[axis] + end), 0
        if begin or end:
            data = data.index_select(axis, _pad_indices(data.shape[axis], begin, end, mode, data.device))
    return data
