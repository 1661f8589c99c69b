"""Elementwise math, comparison, logic and selection operators (NumPy broadcasting, as torch's)."""

from __future__ import annotations

import torch

from onyx.providers.torch.converters.registry import BOOL, FLOATS, INTEGERS, NUMBERS, SIGNED, NodeInfo, converter

def _same_type(info: NodeInfo) -> dict | None:
    """No attributes, and every input of one type (the spec's constraint torch would promote)."""
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    return {} if not info.attrs and len(set(present)) == 1 else None


@converter("Abs", since=(6, 13), dtypes=NUMBERS)
def abs_(x):
    return torch.abs(x)


@converter("Neg", since=(6, 13), dtypes=SIGNED)
def neg(x):
    return torch.neg(x)


@converter("Sign", since=(9, 13), dtypes=NUMBERS)
def sign(x):
    return torch.sign(x)


for _op, _fn, _since in [
    ("Exp", torch.exp, (6, 13)), ("Log", torch.log, (6, 13)), ("Sqrt", torch.sqrt, (6, 13)),
    ("Reciprocal", torch.reciprocal, (6, 13)), ("Floor", torch.floor, (6, 13)), ("Ceil", torch.ceil, (6, 13)),
    ("Round", torch.round, (11,)), ("Sin", torch.sin, (7,)), ("Cos", torch.cos, (7,)), ("Tan", torch.tan, (7,)),
    ("Asin", torch.asin, (7,)), ("Acos", torch.acos, (7,)), ("Atan", torch.atan, (7,)), ("Sinh", torch.sinh, (9,)),
    ("Cosh", torch.cosh, (9,)), ("Asinh", torch.asinh, (9,)), ("Acosh", torch.acosh, (9,)),
    ("Atanh", torch.atanh, (9,)), ("Erf", torch.erf, (9, 13)),
]:
    converter(_op, since=_since, dtypes=FLOATS)(_fn)


@converter("IsNaN", since=(9, 13, 20), dtypes=FLOATS | BOOL)
def isnan(x):
    return torch.isnan(x)


def _isinf_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"detect_negative", "detect_positive"}:
        return None
    return {"detect_negative": int(info.attrs.get("detect_negative", 1)),
            "detect_positive": int(info.attrs.get("detect_positive", 1))}


@converter("IsInf", since=(10, 20), dtypes=FLOATS | BOOL, prepare=_isinf_attrs)
def isinf(x, *, detect_negative=1, detect_positive=1):
    if detect_negative and detect_positive:
        return torch.isinf(x)
    if detect_negative:
        return torch.isneginf(x)
    if detect_positive:
        return torch.isposinf(x)
    return torch.zeros_like(x, dtype=torch.bool)


@converter("Add", since=(7, 13, 14), prepare=_same_type, dtypes=NUMBERS)
def add(a, b):
    return torch.add(a, b)


@converter("Sub", since=(7, 13, 14), prepare=_same_type, dtypes=NUMBERS)
def sub(a, b):
    return torch.sub(a, b)


@converter("Mul", since=(7, 13, 14), prepare=_same_type, dtypes=NUMBERS)
def mul(a, b):
    return torch.mul(a, b)


@converter("Div", since=(7, 13, 14), prepare=_same_type, dtypes=NUMBERS)
def div(a, b):
    if a.is_floating_point():
        return torch.div(a, b)
    return torch.div(a, b, rounding_mode="trunc")


def _pow_types(info: NodeInfo) -> dict | None:
    base, exponent = info.input_dtypes
    return {} if base in FLOATS and exponent in FLOATS | INTEGERS and not info.attrs else None


@converter("Pow", since=(7, 12, 13, 15), prepare=_pow_types, dtypes=NUMBERS)
def pow_(a, b):
    if b.dtype != a.dtype:
        b = b.to(a.dtype)
    return torch.pow(a, b)


def _mod_attrs(info: NodeInfo) -> dict | None:
    if set(info.attrs) - {"fmod"}:
        return None
    present = {d for d in info.input_dtypes}
    fmod = int(info.attrs.get("fmod", 0))
    if len(present) != 1 or (not fmod and present <= FLOATS):
        return None  # a float Mod needs fmod=1 (the spec)
    return {"fmod": fmod}


@converter("Mod", since=(10, 13), prepare=_mod_attrs, dtypes=NUMBERS)
def mod(a, b, *, fmod=0):
    return torch.fmod(a, b) if fmod else torch.remainder(a, b)


def _variadic(info: NodeInfo) -> dict | None:
    return {} if not info.attrs and len(set(info.input_dtypes)) == 1 and info.input_dtypes else None


@converter("Max", since=(8, 12, 13), prepare=_variadic, dtypes=NUMBERS)
def max_(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out


@converter("Min", since=(8, 12, 13), prepare=_variadic, dtypes=NUMBERS)
def min_(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = torch.minimum(out, x)
    return out


@converter("Sum", since=(8, 13), prepare=_variadic, dtypes=FLOATS)
def sum_(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


@converter("Mean", since=(8, 13), prepare=_variadic, dtypes=FLOATS)
def mean(*xs):
    return sum_(*xs) / len(xs)


for _op, _fn in [("Equal", torch.eq), ("Less", torch.lt), ("Greater", torch.gt), ("LessOrEqual", torch.le),
                 ("GreaterOrEqual", torch.ge)]:
    converter(_op, since=(7, 11, 13, 16, 19) if _op == "Equal" else (7, 9, 12, 13, 16), prepare=_same_type)(_fn)

for _op, _fn in [("And", torch.logical_and), ("Or", torch.logical_or), ("Xor", torch.logical_xor)]:
    converter(_op, since=7, dtypes=BOOL, prepare=_same_type)(_fn)

converter("Not", since=1, dtypes=BOOL)(torch.logical_not)

for _op, _fn in [("BitwiseAnd", torch.bitwise_and), ("BitwiseOr", torch.bitwise_or),
                 ("BitwiseXor", torch.bitwise_xor)]:
    converter(_op, since=18, dtypes=INTEGERS, prepare=_same_type)(_fn)

converter("BitwiseNot", since=18, dtypes=INTEGERS)(torch.bitwise_not)


def _where_types(info: NodeInfo) -> dict | None:
    cond, a, b = info.input_dtypes
    return {} if cond in BOOL and a == b and not info.attrs else None


@converter("Where", since=(9, 16), prepare=_where_types)
def where(condition, x, y):
    return torch.where(condition, x, y)


def _clip_attrs(info: NodeInfo) -> dict | None:
    if info.opset < 11:
        if set(info.attrs) - {"min", "max"}:
            return None
        return {"low": float(info.attrs.get("min", -3.4028234663852886e38)),
                "high": float(info.attrs.get("max", 3.4028234663852886e38))}
    present = [d for d, n in zip(info.input_dtypes, info.node.inputs) if n]
    return {} if not info.attrs and len(set(present)) == 1 else None


@converter("Clip", since=(6, 11, 12, 13), prepare=_clip_attrs, dtypes=NUMBERS)
def clip(x, min=None, max=None, *, low=None, high=None):  # noqa: A002 - the spec's input names
    if low is not None:
        return torch.clamp(x, low, high)
    if min is not None:
        x = torch.maximum(x, min)
    if max is not None:
        x = torch.minimum(x, max)
    return x
