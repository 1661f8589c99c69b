"""ai.onnx.contrib string operators: StringLower, StringUpper, StringLength, StringConcat,
StringEqual, StringJoin, StringSplit, StringRegexReplace (as onnxruntime-extensions 0.15 runs them).

String tensors are object arrays of Python str.
"""

from __future__ import annotations

import re

import numpy as np

from onyx.ops.extensions import DOMAIN
from onyx.ops.registry import kernel


# onnxruntime-extensions changes case only for these code points: StringUpper only a-z, and
# StringLower the ranges below, each by +32 (measured over U+0020..U+2FFF). Not Python's
# Unicode case mapping: 'É' lowers, 'Ā' and 'Σ' do not, and 'ß' never changes.
_LOWER_RANGES = ((0x41, 0x5A), (0xC0, 0xD6), (0xD8, 0xDE), (0x399, 0x39D), (0x39F, 0x3A0),
                 (0x410, 0x42F), (0x1F08, 0x1F68))
_LOWER = {c: c + 32 for first, last in _LOWER_RANGES for c in range(first, last + 1)}
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _map(fn, x: np.ndarray, dtype=object) -> np.ndarray:
    out = np.empty(x.shape, dtype=dtype)
    flat = out.reshape(-1)
    for i, s in enumerate(x.reshape(-1)):
        flat[i] = fn(s)
    return out


@kernel("StringLower", since=1, domain=DOMAIN)
def string_lower(x):
    return _map(lambda s: s.translate(_LOWER), x)


@kernel("StringUpper", since=1, domain=DOMAIN)
def string_upper(x):
    return _map(lambda s: s.translate(_UPPER), x)


@kernel("StringLength", since=1, domain=DOMAIN)
def string_length(x):
    """Code points per string."""
    return _map(len, x, np.int64)


@kernel("StringConcat", since=1, domain=DOMAIN)
def string_concat(x, y):
    """Elementwise concatenation of two tensors of one shape (no broadcasting)."""
    if x.shape != y.shape:
        raise ValueError(f"StringConcat needs inputs of one shape, got {x.shape} and {y.shape}")
    return np.asarray(np.add(x, y, dtype=object), dtype=object)


@kernel("StringEqual", since=1, domain=DOMAIN)
def string_equal(x, y):
    """Elementwise equality, with NumPy's broadcasting. (onnxruntime-extensions broadcasts
    only one-element tensors correctly: it compares [2, 1] with [2] element by element.)"""
    return np.asarray(np.equal(x.astype(object), y.astype(object), dtype=object), dtype=bool)


@kernel("StringJoin", since=1, domain=DOMAIN)
def string_join(text, sep, axis):
    """Join the strings along ``axis`` (0 <= axis < rank) with the separator ``sep``."""
    axis = int(np.asarray(axis).reshape(-1)[0])
    if not 0 <= axis < max(text.ndim, 1):
        raise ValueError(f"StringJoin: axis must be in [0, {text.ndim}), got {axis}")
    separator = str(np.asarray(sep).reshape(-1)[0])
    moved = np.moveaxis(text.reshape(text.shape or (1,)), axis, -1)
    joined = np.array([separator.join(row) for row in moved.reshape(-1, moved.shape[-1])], dtype=object)
    return joined.reshape(moved.shape[:-1] or (1,))


@kernel("StringSplit", since=1, domain=DOMAIN)
def string_split(text, sep, skip_empty):
    """Split each string of a 1-D tensor at every character of ``sep`` (into characters when
    ``sep`` is empty), as a sparse result: indices [M, 2], values [M], dense shape [2].
    An empty string has no tokens."""
    if text.ndim != 1:
        raise ValueError(f"StringSplit supports 1-D input only, got shape {text.shape}")
    separators = str(np.asarray(sep).reshape(-1)[0])
    skip = bool(np.asarray(skip_empty).reshape(-1)[0])
    pattern = re.compile("[" + re.escape(separators) + "]") if separators else None
    indices, values, width = [], [], 0
    for row, s in enumerate(text):
        tokens = [] if not s else (pattern.split(s) if pattern else list(s))
        if skip:
            tokens = [t for t in tokens if t]
        indices += [(row, col) for col in range(len(tokens))]
        values += tokens
        width = max(width, len(tokens))
    return (np.array(indices, dtype=np.int64).reshape(-1, 2), np.array(values, dtype=object),
            np.array([len(text), width], dtype=np.int64))


_GROUP_REF = re.compile(r"\\(\d)")


@kernel("StringRegexReplace", since=1, domain=DOMAIN)
def string_regex_replace(text, pattern, rewrite, *, global_replace=1):
    """Replace matches of the regular expression ``pattern`` (RE2 syntax, which Python's re
    shares for common patterns) by ``rewrite``, where \\0 is the match and \\1-\\9 its groups;
    every match when ``global_replace`` is 1, else the first. As RE2, an empty match right
    after a previous match is not replaced."""
    regex = re.compile(str(np.asarray(pattern).reshape(-1)[0]))
    template = str(np.asarray(rewrite).reshape(-1)[0])

    def expand(match: re.Match) -> str:
        return _GROUP_REF.sub(lambda ref: match.group(int(ref.group(1))) or "", template)

    def replace(s: str) -> str:
        out, last_end, previous_end = [], 0, -1
        for match in regex.finditer(s):
            if match.start() == match.end() == previous_end:
                continue
            out += [s[last_end:match.start()], expand(match)]
            last_end = previous_end = match.end()
            if not global_replace:
                break
        return "".join(out) + s[last_end:]

    return _map(replace, text)
