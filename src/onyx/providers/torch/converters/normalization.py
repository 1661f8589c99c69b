"""Normalizations (inference form) and Dropout (the identity at inference)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from onyx.providers.torch.converters.registry import BOOL, FLOATS, NodeInfo, converter


def _batch_norm_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"epsilon", "momentum", "training_mode", "spatial", "is_test", "consumed_inputs"}:
        return None
    if info.attrs.get("training_mode", 0) or info.num_outputs != 1 or not info.attrs.get("spatial", 1):
        return None
    if len(set(info.input_dtypes)) != 1 or (info.rank(0) is not None and info.rank(0) < 2):
        return None
    return {"epsilon": float(info.attrs.get("epsilon", 1e-5))}


@converter("BatchNormalization", since=(6, 7, 9, 14, 15), dtypes=FLOATS, prepare=_batch_norm_attrs)
def batch_normalization(x, scale, bias, mean, var, *, epsilon=1e-5):
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, epsilon)


@converter("InstanceNormalization", since=(6, 22), dtypes=FLOATS)
def instance_normalization(x, scale, bias, *, epsilon=1e-5):
    return F.instance_norm(x, weight=scale, bias=bias, eps=epsilon)


def _layer_norm_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "epsilon", "stash_type"} or (info.node.domain and info.num_outputs != 1):
        return None
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    if len(set(present)) != 1:
        return None
    if info.num_outputs > 1 and info.output_dtypes[1] != (np.float32 if info.attrs.get("stash_type", 1) == 1
                                                          else info.input_dtypes[0]):
        return None
    return {"axis": int(info.attrs.get("axis", -1)), "epsilon": float(info.attrs.get("epsilon", 1e-5)),
            "stash": int(info.attrs.get("stash_type", 1)), "statistics": int(info.num_outputs > 1)}


@converter("LayerNormalization", since=17, dtypes=FLOATS, prepare=_layer_norm_attrs, multiple=True)
@converter("LayerNormalization", since=1, dtypes=FLOATS, prepare=_layer_norm_attrs, multiple=True)
@converter("LayerNormalization", since=1, domain="ai.onyx", dtypes=FLOATS, prepare=_layer_norm_attrs, multiple=True)
def layer_normalization(x, scale, b=None, *, axis=-1, epsilon=1e-5, stash=1, statistics=0):
    """(Y, Mean, InvStdDev): statistics over axes [axis, rank), in float32 when stash_type is 1."""
    axis = axis + x.dim() if axis < 0 else axis
    shape = x.shape[axis:]
    if not statistics and scale.shape == shape and (b is None or b.shape == shape) and (
            stash != 1 or x.dtype == torch.float32):
        return (F.layer_norm(x, shape, scale, b, epsilon),)
    dims = tuple(range(axis, x.dim()))
    work = x.float() if stash == 1 else x
    mean = work.mean(dims, keepdim=True)
    centered = work - mean
    inv_std = torch.rsqrt((centered * centered).mean(dims, keepdim=True) + epsilon)
    y = (centered * inv_std).to(x.dtype) * scale
    return (y if b is None else y + b), mean, inv_std


def _group_norm_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"epsilon", "num_groups", "stash_type"} or (info.rank(0) is not None and info.rank(0) < 3):
        return None
    return {"groups": int(info.attrs["num_groups"]), "epsilon": float(info.attrs.get("epsilon", 1e-5)),
            "per_group": int(info.opset < 21)}


@converter("GroupNormalization", since=(18, 21), dtypes=FLOATS, prepare=_group_norm_attrs)
def group_normalization(x, scale, bias, *, groups, epsilon=1e-5, per_group=0):
    if per_group:  # opset 18: one scale and bias per group
        repeat = x.shape[1] // groups
        scale, bias = scale.repeat_interleave(repeat), bias.repeat_interleave(repeat)
    return F.group_norm(x, groups, scale, bias, epsilon)


def _lp_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"axis", "p"} or info.attrs.get("p", 2) not in (1, 2):
        return None
    return {"axis": int(info.attrs.get("axis", -1)), "p": int(info.attrs.get("p", 2))}


@converter("LpNormalization", since=(1, 22), dtypes=FLOATS, prepare=_lp_attrs)
def lp_normalization(x, *, axis=-1, p=2):
    norm = torch.sum(torch.abs(x), axis, keepdim=True) if p == 1 else torch.sqrt(torch.sum(x * x, axis, keepdim=True))
    return torch.where(norm == 0, torch.zeros_like(x), x / norm)


def _dropout_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"ratio", "seed", "is_test"}:
        return None
    if (info.opset < 7 and not info.attrs.get("is_test", 0)) or (info.opset < 10 and info.num_outputs > 1):
        return None
    if info.opset >= 12 and info.has_input(2):
        training = info.constant(2)
        if training is None or bool(training.reshape(-1)[0]):
            return None
    return {}


@converter("Dropout", since=(6, 7, 10, 12, 13, 22), dtypes=FLOATS | BOOL,
           prepare=_dropout_attrs, multiple=True)
def dropout(data, ratio=None, training_mode=None):
    return data, torch.ones_like(data, dtype=torch.bool)


def _lrn_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"alpha", "beta", "bias", "size"}:
        return None
    return {"size": int(info.attrs["size"]), "alpha": float(info.attrs.get("alpha", 1e-4)),
            "beta": float(info.attrs.get("beta", 0.75)), "bias": float(info.attrs.get("bias", 1.0))}


@converter("LRN", since=(1, 13), dtypes=FLOATS, prepare=_lrn_attrs)
def lrn(x, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    """x / (bias + alpha / size * sum of squares over the channels around)^beta."""
    squares = x * x
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = F.pad(squares.movedim(1, -1), [before, after]).movedim(-1, 1)
    total = padded.unfold(1, size, 1).sum(-1)
    return x / (bias + alpha / size * total) ** beta
