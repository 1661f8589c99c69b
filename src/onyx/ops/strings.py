"""String operators: StringNormalizer, StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer.

String tensors are object arrays of Python str.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from onyx.ops.registry import kernel

_upper = np.frompyfunc(str.upper, 1, 1)
_lower = np.frompyfunc(str.lower, 1, 1)


@kernel("StringNormalizer", since=10)
def string_normalizer(X, *, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None):
    """Drop stop words from a [C] or [1, C] tensor, then change case.

    Case changes use Python's locale-independent Unicode mappings whatever ``locale`` says.
    """
    if not (X.ndim == 1 or (X.ndim == 2 and X.shape[0] == 1)):
        raise ValueError(f"StringNormalizer accepts [C] or [1, C] tensors, got shape {X.shape}")
    if case_change_action not in ("NONE", "LOWER", "UPPER"):
        raise ValueError(f"case_change_action must be NONE, LOWER or UPPER, got {case_change_action!r}")
    words = X.reshape(-1)
    if stopwords:
        if is_case_sensitive:
            keep = ~np.isin(words, np.array(stopwords, dtype=object))
        else:
            keep = ~np.isin(_lower(words), np.array([w.lower() for w in stopwords], dtype=object))
        words = words[keep]
    if case_change_action == "UPPER":
        words = _upper(words)
    elif case_change_action == "LOWER":
        words = _lower(words)
    if words.size == 0:
        words = np.array([""], dtype=object)
    return words.astype(object).reshape(X.shape[:-1] + (-1,))


@kernel("StringConcat", since=20)
def string_concat(X, Y):
    """Elementwise (broadcast) concatenation."""
    return np.asarray(np.add(X, Y, dtype=object), dtype=object)


@kernel("StringSplit", since=20)
def string_split(X, *, delimiter=None, maxsplit=None):
    """Split every element; substrings padded with "" to the longest split, plus the counts.

    An empty string has no substrings.
    """
    limit = -1 if maxsplit is None else maxsplit
    if delimiter:
        parts = [s.split(delimiter, limit) if s else [] for s in X.reshape(-1)]
    else:  # runs of whitespace separate; leading and trailing whitespace goes
        parts = [s.strip().split(None, limit) for s in X.reshape(-1)]
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    width = int(counts.max()) if counts.size else 0
    substrings = np.full((len(parts), width), "", dtype=object)
    rows = np.repeat(np.arange(len(parts)), counts)
    cols = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    substrings[rows, cols] = [s for p in parts for s in p]
    return substrings.reshape(X.shape + (width,)), counts.reshape(X.shape)


# Constructs Python's `re` accepts but RE2 rejects: lookaround, backreferences, conditionals.
_NOT_RE2 = re.compile(r"\(\?(?:=|!|<=|<!|\()|(?<!\\)(?:\\\\)*\\[1-9]|\(\?P=")


@functools.lru_cache(maxsize=64)
def compile_re2(pattern: str) -> re.Pattern:
    """Compile an RE2 pattern with Python's `re` (the shared syntax), rejecting Python-only constructs.

    The RE2 check is lexical: it catches lookarounds, backreferences and conditionals, not every
    difference between the two dialects.
    """
    if _NOT_RE2.search(pattern):
        raise ValueError(f"pattern {pattern!r} uses lookaround, backreferences or conditionals, which RE2 lacks")
    return re.compile(pattern)


@kernel("RegexFullMatch", since=20)
def regex_full_match(X, *, pattern=None):
    if pattern is None:
        raise ValueError("RegexFullMatch needs the 'pattern' attribute")
    fullmatch = compile_re2(pattern).fullmatch
    matches = np.frompyfunc(lambda s: fullmatch(s) is not None, 1, 1)(X)
    return np.asarray(matches, dtype=bool).reshape(X.shape)


def _token_ids(tokens: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Index of every token in the sorted ``vocabulary``, -1 for tokens outside it."""
    if vocabulary.size == 0:
        return np.full(tokens.shape, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(vocabulary, tokens), vocabulary.size - 1)
    return np.where(vocabulary[pos] == tokens, pos, -1).astype(np.int64)


def _ngram_keys(ids: np.ndarray, base: int) -> np.ndarray:
    """Mixed-radix int64 keys of n-grams of token ids (last axis); -1 where a token is unknown."""
    keys = np.zeros(ids.shape[:-1], dtype=np.int64)
    for k in range(ids.shape[-1]):
        keys = keys * base + ids[..., k]
    return np.where((ids >= 0).all(axis=-1), keys, -1)


@kernel("TfIdfVectorizer", since=9)
def tfidf_vectorizer(
    X,
    *,
    max_gram_length=None,
    max_skip_count=None,
    min_gram_length=None,
    mode=None,
    ngram_counts=None,
    ngram_indexes=None,
    pool_int64s=None,
    pool_strings=None,
    weights=None,
):
    """Count pool n-grams (with up to ``max_skip_count`` skips between items) in each row of X."""
    if (pool_int64s is None) == (pool_strings is None):
        raise ValueError("TfIdfVectorizer needs exactly one of pool_int64s and pool_strings")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ValueError(f"mode must be TF, IDF or TFIDF, got {mode!r}")
    pool = np.array(pool_strings, dtype=object) if pool_strings is not None else np.asarray(pool_int64s, np.int64)
    if X.ndim not in (1, 2):
        raise ValueError(f"TfIdfVectorizer expects a 1-D or 2-D input, got shape {X.shape}")
    if (X.dtype == object) != (pool_strings is not None):
        raise TypeError(f"TfIdfVectorizer: a {X.dtype} input needs pool_{'strings' if X.dtype == object else 'int64s'}")
    rows = X.reshape(1, -1) if X.ndim == 1 else X
    if pool_strings is None:
        rows = rows.astype(np.int64)
    vocabulary = np.unique(pool)
    base = max(vocabulary.size, 1)
    ids = _token_ids(rows, vocabulary)
    pool_ids = _token_ids(pool, vocabulary)

    n_rows, length = rows.shape
    starts = list(ngram_counts) + [pool.size]
    counts = np.zeros((n_rows, len(ngram_indexes)), dtype=np.float32)
    first_ngram = 0  # index (in ngram_indexes) of the first n-gram of the current length
    for n in range(1, len(ngram_counts) + 1):
        grams = pool_ids[starts[n - 1]:starts[n]].reshape(-1, n)
        if min_gram_length <= n <= max_gram_length and grams.size:
            if base ** n >= 2**63:
                raise ValueError(f"TfIdfVectorizer: {n}-grams over {base} distinct tokens overflow int64 keys")
            pool_keys = _ngram_keys(grams, base)
            order = np.argsort(pool_keys, kind="stable")
            sorted_keys = pool_keys[order]
            for skip in range(max_skip_count + 1 if n > 1 else 1):
                step = skip + 1
                span = (n - 1) * step
                if span >= length:
                    break
                window = np.arange(length - span)[:, None] + np.arange(n) * step
                keys = _ngram_keys(ids[:, window], base)
                pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
                hit = (sorted_keys[pos] == keys) & (keys >= 0)
                row_index = np.broadcast_to(np.arange(n_rows)[:, None], keys.shape)[hit]
                flat = row_index * counts.shape[1] + first_ngram + order[pos[hit]]
                counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
        first_ngram += grams.shape[0]

    if mode != "TF":
        if mode == "IDF":
            counts = np.minimum(counts, 1)
        if weights is not None:
            counts = counts * np.asarray(weights, dtype=np.float32)
    out = np.zeros((n_rows, int(np.max(ngram_indexes)) + 1), dtype=np.float32)
    out[:, np.asarray(ngram_indexes, dtype=np.int64)] = counts
    return out.reshape(-1) if X.ndim == 1 else out
