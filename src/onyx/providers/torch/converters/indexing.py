"""Gather and Scatter operators (negative indices count from the end, as the spec says)."""

from __future__ import annotations

import torch

from onyx.providers.torch.converters.registry import NodeInfo, converter, text


def _positive(indices: torch.Tensor, size: int) -> torch.Tensor:
    indices = indices.to(torch.int64)
    return torch.where(indices < 0, indices + size, indices)


@converter("Gather", since=(1, 11, 13))
def gather(data, indices, *, axis=0):
    axis = axis + data.dim() if axis < 0 else axis
    index = _positive(indices, data.shape[axis])
    picked = data.index_select(axis, index.reshape(-1))
    return picked.reshape(data.shape[:axis] + index.shape + data.shape[axis + 1:])


@converter("GatherElements", since=(11, 13))
def gather_elements(data, indices, *, axis=0):
    axis = axis + data.dim() if axis < 0 else axis
    return torch.gather(data, axis, _positive(indices, data.shape[axis]))


def _batch_dims_zero(info: NodeInfo) -> dict | None:
    return {} if not info.attrs.get("batch_dims", 0) and set(info.attrs) <= {"batch_dims"} else None


@converter("GatherND", since=(11, 12, 13), prepare=_batch_dims_zero)
def gather_nd(data, indices):
    depth = indices.shape[-1]
    index = tuple(_positive(indices[..., i], data.shape[i]) for i in range(depth))
    return data[index]


_REDUCTIONS = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


def _scatter_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "reduction"}:
        return None
    reduction = text(info.attrs.get("reduction"), "none")
    if reduction != "none" and reduction not in _REDUCTIONS:
        return None
    if len({info.input_dtypes[0], info.input_dtypes[2]}) != 1:
        return None
    return {"axis": int(info.attrs.get("axis", 0)), "reduction": reduction}


@converter("ScatterElements", since=(11, 13, 16, 18), prepare=_scatter_attrs)
@converter("Scatter", since=(9,), prepare=_scatter_attrs)
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    axis = axis + data.dim() if axis < 0 else axis
    index = _positive(indices, data.shape[axis])
    if reduction == "none":
        return data.scatter(axis, index, updates)
    return data.scatter_reduce(axis, index, updates, _REDUCTIONS[reduction], include_self=True)


def _scatter_nd_attrs(info: NodeInfo) -> dict | None:
    reduction = text(info.attrs.get("reduction"), "none")
    if set(info.attrs) - {"reduction"} or reduction not in ("none", "add"):
        return None
    return {"accumulate": reduction == "add"}


@converter("ScatterND", since=(11, 13, 16, 18), prepare=_scatter_nd_attrs)
def scatter_nd(data, indices, updates, *, accumulate=False):
    depth = indices.shape[-1]
    index = tuple(_positive(indices[..., i], data.shape[i]) for i in range(depth))
    return data.index_put(index, updates, accumulate=accumulate)
