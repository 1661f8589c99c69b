"""Matrix products."""

from __future__ import annotations

import torch

from onyx.providers.torch.converters.registry import FLOATS, NUMBERS, NodeInfo, converter, text


def _same_type(info: NodeInfo) -> dict | None:
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    return {} if len(set(present)) == 1 and not info.attrs else None


@converter("MatMul", since=(1, 9, 13), dtypes=NUMBERS, prepare=_same_type)
def matmul(a, b):
    return torch.matmul(a, b)


def _gemm_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"alpha", "beta", "transA", "transB"}:
        return None
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    if len(set(present)) != 1:
        return None
    return {"alpha": float(info.attrs.get("alpha", 1.0)), "beta": float(info.attrs.get("beta", 1.0)),
            "trans_a": int(info.attrs.get("transA", 0)), "trans_b": int(info.attrs.get("transB", 0))}


@converter("Gemm", since=(6, 7, 9, 11, 13), dtypes=FLOATS, prepare=_gemm_attrs)
def gemm(a, b, c=None, *, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    product = torch.matmul(a, b)
    if alpha != 1.0:
        product = product * alpha
    if c is None or beta == 0.0:
        return product
    return product + (c if beta == 1.0 else c * beta)


def _einsum_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"equation"} or len(set(info.input_dtypes)) != 1:
        return None
    return {"equation": text(info.attrs["equation"], "").replace(" ", "")}


@converter("Einsum", since=12, dtypes=NUMBERS, prepare=_einsum_attrs)
def einsum(*inputs, equation):
    return torch.einsum(equation, *inputs)


def _fused_matmul_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"alpha", "transA", "transB"} or len(set(info.input_dtypes)) != 1:
        return None
    return {"alpha": float(info.attrs.get("alpha", 1.0)), "trans_a": int(info.attrs.get("transA", 0)),
            "trans_b": int(info.attrs.get("transB", 0))}


@converter("FusedMatMul", since=1, domain="com.microsoft", dtypes=FLOATS, prepare=_fused_matmul_attrs)
def fused_matmul(a, b, *, alpha=1.0, trans_a=0, trans_b=0):
    a = a.transpose(-1, -2) if trans_a else a
    b = b.transpose(-1, -2) if trans_b else b
    product = torch.matmul(a, b)
    return product * alpha if alpha != 1.0 else product
