"""com.microsoft operators found in exported and optimized transformer models."""

from __future__ import annotations

import torch.nn.functional as F

from onyx.providers.torch.converters.registry import FLOATS, NodeInfo, converter


def _skip_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"epsilon"} or info.num_outputs != 1 or len(set(info.input_dtypes)) != 1:
        return None
    return {"epsilon": float(info.attrs.get("epsilon", 1e-12))}


@converter("SkipLayerNormalization", since=1, domain="com.microsoft", dtypes=FLOATS, prepare=_skip_attrs)
def skip_layer_normalization(x, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):
    total = x + skip if bias is None else x + skip + bias
    return F.layer_norm(total, total.shape[-1:], gamma, beta, epsilon)
