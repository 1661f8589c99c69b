"""Reductions, ArgMax/ArgMin, CumSum and TopK. Types stay the input's (torch would widen
integer sums to int64)."""

from __future__ import annotations

import torch

from onyx.providers.torch.converters.registry import FLOATS, NUMBERS, NodeInfo, converter, plain


def _reduce_attrs(axes_input_since: int):
    def prepare(info: NodeInfo) -> dict | None:
        if set(info.attrs) - {"axes", "keepdims", "noop_with_empty_axes"}:
            return None
        kwargs = {"keepdims": int(info.attrs.get("keepdims", 1)),
                  "noop": int(info.attrs.get("noop_with_empty_axes", 0))}
        if info.opset < axes_input_since:
            if "axes" in info.attrs:
                kwargs["known"] = plain(info.attrs["axes"])
            return kwargs
        if "axes" in info.attrs:
            return None
        axes = info.constant(1)
        if axes is not None:
            kwargs["known"] = [int(a) for a in axes.reshape(-1)]
        return kwargs

    return prepare


def _dims(x: torch.Tensor, axes, known, noop: int) -> tuple[int, ...] | None:
    """The axes to reduce; () for none (noop_with_empty_axes), None for all."""
    if known is None and axes is not None:
        known = [int(a) for a in axes.reshape(-1).tolist()]
    if not known:
        return () if noop else tuple(range(x.dim()))
    return tuple(a + x.dim() if a < 0 else a for a in known)


def _reducer(name: str, fn, dtypes, axes_input_since: int, since: tuple[int, ...]):
    def reduce(data, axes=None, *, keepdims=1, noop=0, known=None):
        dims = _dims(data, axes, known, noop)
        if dims == ():
            return fn(data, None, keepdims, identity=True)
        return fn(data, dims, bool(keepdims))

    reduce.__name__ = reduce.__qualname__ = name.lower()
    converter(name, since=since, dtypes=dtypes, prepare=_reduce_attrs(axes_input_since), checked=(0,))(reduce)


def _sum(x, dims, keep, identity=False):
    return x if identity else torch.sum(x, dims, keepdim=keep, dtype=x.dtype)


def _mean(x, dims, keep, identity=False):
    return x if identity else torch.mean(x, dims, keepdim=keep)


def _extreme(fn, fill):
    def reduce(x, dims, keep, identity=False):
        if identity:
            return x
        if x.numel() == 0:
            shape = [1 if i in dims else n for i, n in enumerate(x.shape)]
            if not keep:
                shape = [n for i, n in enumerate(x.shape) if i not in dims]
            value = fill if x.is_floating_point() else (torch.iinfo(x.dtype).min if fill < 0 else torch.iinfo(x.dtype).max)
            return torch.full(shape, value, dtype=x.dtype, device=x.device)
        return fn(x, dims, keepdim=keep)

    return reduce


def _prod(x, dims, keep, identity=False):
    if identity:
        return x
    for d in sorted(dims, reverse=True):
        x = torch.prod(x, d, keepdim=True, dtype=x.dtype)
    return x if keep else x.squeeze(dims) if dims else x


def _l1(x, dims, keep, identity=False):
    return torch.abs(x) if identity else _sum(torch.abs(x), dims, keep)


def _l2(x, dims, keep, identity=False):
    return torch.abs(x) if identity else torch.sqrt(_sum(x * x, dims, keep))


def _sum_square(x, dims, keep, identity=False):
    return x * x if identity else _sum(x * x, dims, keep)


def _log_sum(x, dims, keep, identity=False):
    return torch.log(x) if identity else torch.log(_sum(x, dims, keep))


def _log_sum_exp(x, dims, keep, identity=False):
    return x if identity else torch.logsumexp(x, dims, keepdim=keep)


_V = (1, 11, 13)
for _name, _fn, _dtypes in [
    ("ReduceMean", _mean, FLOATS), ("ReduceMax", _extreme(torch.amax, float("-inf")), NUMBERS),
    ("ReduceMin", _extreme(torch.amin, float("inf")), NUMBERS), ("ReduceProd", _prod, NUMBERS),
    ("ReduceL1", _l1, NUMBERS), ("ReduceL2", _l2, FLOATS), ("ReduceSumSquare", _sum_square, NUMBERS),
    ("ReduceLogSum", _log_sum, FLOATS), ("ReduceLogSumExp", _log_sum_exp, FLOATS),
]:
    _reducer(_name, _fn, _dtypes, 18, _V + (18,) + ((20,) if _name in ("ReduceMax", "ReduceMin") else ()))
_reducer("ReduceSum", _sum, NUMBERS, 13, (1, 11, 13))


def _arg_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "keepdims", "select_last_index"}:
        return None
    return {"axis": int(info.attrs.get("axis", 0)), "keepdims": int(info.attrs.get("keepdims", 1)),
            "last": int(info.attrs.get("select_last_index", 0))}


def _arg(fn):
    def arg(data, *, axis=0, keepdims=1, last=0):
        axis = axis + data.dim() if axis < 0 else axis
        if last:
            flipped = fn(torch.flip(data, (axis,)), axis, keepdim=bool(keepdims))
            return data.shape[axis] - 1 - flipped
        return fn(data, axis, keepdim=bool(keepdims))

    return arg


converter("ArgMax", since=(1, 11, 12, 13), dtypes=NUMBERS, prepare=_arg_attrs)(_arg(torch.argmax))
converter("ArgMin", since=(1, 11, 12, 13), dtypes=NUMBERS, prepare=_arg_attrs)(_arg(torch.argmin))


def _cumsum_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"exclusive", "reverse"}:
        return None
    return {"exclusive": int(info.attrs.get("exclusive", 0)), "reverse": int(info.attrs.get("reverse", 0))}


@converter("CumSum", since=(11, 14), dtypes=NUMBERS, prepare=_cumsum_attrs, checked=(0,))
def cumsum(x, axis, *, exclusive=0, reverse=0):
    dim = int(axis.item())
    dim = dim + x.dim() if dim < 0 else dim
    y = torch.flip(x, (dim,)) if reverse else x
    total = torch.cumsum(y, dim, dtype=x.dtype)
    if exclusive:
        total = total - y
    return torch.flip(total, (dim,)) if reverse else total


def _topk_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "largest", "sorted"} or not info.attrs.get("sorted", 1) or info.opset < 10:
        return None
    return {"axis": int(info.attrs.get("axis", -1)), "largest": int(info.attrs.get("largest", 1))}


@converter("TopK", since=(10, 11), dtypes=NUMBERS, prepare=_topk_attrs, multiple=True, checked=(0,))
def topk(x, k, *, axis=-1, largest=1):
    """A stable sort keeps equal values in index order, which the spec asks for."""
    count = int(k.reshape(-1)[0].item())
    values, indices = torch.sort(x, dim=axis, descending=bool(largest), stable=True)
    return values.narrow(axis, 0, count), indices.narrow(axis, 0, count)
