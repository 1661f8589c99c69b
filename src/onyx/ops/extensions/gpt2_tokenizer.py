"""ai.onnx.contrib GPT2Tokenizer: byte-level BPE, text [N] -> input_ids and attention_mask
[N, L] (and offset_mapping [N, L, 2]), as onnxruntime-extensions 0.15 tokenizes.

Each text is first split at the vocabulary's special tokens (``<|...|>``), then into GPT-2's
pre-tokens (contractions, a space and a run of letters, of digits or of other symbols, runs of
whitespace); each pre-token's UTF-8 bytes, written as GPT-2's byte characters, are one token
if the vocabulary has it whole (as in onnxruntime-extensions), else merged by the ``merges`` ranks. Rows are padded with id 0 (mask 0) to the longest row, or cut and padded
to ``padding_length`` when it is positive.

offset_mapping holds each token's character offsets in its text ([-1, -1] for padding);
onnxruntime-extensions' own offsets differ after spaces and special tokens.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata

import numpy as np

from onyx.ops.extensions import DOMAIN
from onyx.ops.registry import kernel

_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


@functools.lru_cache(maxsize=1)
def _byte_chars() -> list[str]:
    """GPT-2's printable stand-in for each byte: itself when printable, else U+0100 onwards."""
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


class _Bpe:
    def __init__(self, vocab: str, merges: str, unk_token: str):
        self.vocab: dict[str, int] = json.loads(vocab)
        lines = [line for line in merges.split("\n") if line.strip() and not line.startswith("#version")]
        self.ranks = {tuple(line.split()): i for i, line in enumerate(lines) if len(line.split()) == 2}
        self.unk = self.vocab.get(unk_token)
        specials = sorted((t for t in self.vocab if t.startswith("<|") and t.endswith("|>")), key=len, reverse=True)
        self.special = re.compile("|".join(map(re.escape, specials))) if specials else None
        self.cache: dict[str, list[str]] = {}

    def merge(self, word: str) -> list[str]:
        if word in self.cache:
            return self.cache[word]
        symbols = [word] if word in self.vocab else list(word)  # a whole pre-token in the vocabulary stays whole
        while len(symbols) > 1:
            pairs = {(a, b) for a, b in zip(symbols, symbols[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, len(self.ranks)))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        self.cache[word] = symbols
        return symbols

    def encode(self, text: str) -> list[tuple[int, int, int]]:
        """(id, start, end) per token, offsets in characters of ``text``."""
        out: list[tuple[int, int, int]] = []
        position = 0
        for match in (self.special.finditer(text) if self.special else ()):
            out += self._encode_plain(text, position, match.start())
            out.append((self.vocab[match.group()], match.start(), match.end()))
            position = match.end()
        return out + self._encode_plain(text, position, len(text))

    def _encode_plain(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        chars = _byte_chars()
        out = []
        for begin, finish in _pretokens(text, start, end):
            encoded, owners = [], []  # the byte characters and the character each came from
            for i in range(begin, finish):
                for b in text[i].encode("utf-8"):
                    encoded.append(chars[b])
                    owners.append(i)
            at = 0
            for token in self.merge("".join(encoded)):
                token_id = self.vocab.get(token, self.unk)
                if token_id is None:
                    raise ValueError(f"GPT2Tokenizer: '{token}' is not in the vocabulary, which has no unk_token")
                out.append((token_id, owners[at], owners[at + len(token) - 1] + 1))
                at += len(token)
        return out


def _kind(c: str) -> str:
    """'s'pace, 'L'etter, 'N'umber or 'o'ther, as GPT-2's pre-tokenizing pattern sees characters."""
    if c.isspace():
        return "s"
    category = unicodedata.category(c)[0]
    return category if category in "LN" else "o"


def _pretokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """GPT-2's pre-tokens of text[start:end]: 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|
    ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+, as (start, end) pairs."""
    spans, i = [], start
    while i < end:
        contraction = next((c for c in _CONTRACTIONS if text.startswith(c, i) and i + len(c) <= end), None)
        if contraction:
            spans.append((i, i + len(contraction)))
            i += len(contraction)
            continue
        j = i + 1 if text[i] == " " and i + 1 < end and _kind(text[i + 1]) != "s" else i
        kind = _kind(text[j])
        if kind != "s":
            k = j + 1
            while k < end and _kind(text[k]) == kind:
                k += 1
            spans.append((i, k))
            i = k
            continue
        k = i
        while k < end and _kind(text[k]) == "s":
            k += 1
        if k < end and k - i > 1:  # leave the last space to the word that follows
            k -= 1
        spans.append((i, k))
        i = k
    return spans


@functools.lru_cache(maxsize=4)
def _tokenizer(vocab: str, merges: str, unk_token: str) -> _Bpe:
    return _Bpe(vocab, merges, unk_token)


@kernel("GPT2Tokenizer", since=1, domain=DOMAIN)
def gpt2_tokenizer(text, *, vocab="", merges="", padding_length=-1, unk_token="<|endoftext|>"):
    bpe = _tokenizer(vocab, merges, unk_token)
    rows = [bpe.encode(str(t)) for t in np.asarray(text).reshape(-1)]
    if padding_length > 0:
        rows = [row[:padding_length] for row in rows]
    width = padding_length if padding_length > 0 else max((len(r) for r in rows), default=0)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    offsets = np.full((len(rows), width, 2), -1, dtype=np.int64)
    for r, row in enumerate(rows):
        for c, (token_id, begin, finish) in enumerate(row):
            ids[r, c], mask[r, c], offsets[r, c] = token_id, 1, (begin, finish)
    return ids, mask, offsets
