"""ai.onnx.contrib BertTokenizer: text (one string, or a pair) -> input_ids, token_type_ids,
attention_mask and offset_mapping, as onnxruntime-extensions 0.15 tokenizes.

The basic tokenizer splits at whitespace, punctuation and (by default) around CJK characters,
lowercases with onnxruntime-extensions' table (see strings.py) when ``do_lower_case``, and
strips accents only when ``strip_accents`` is set; WordPiece then takes the longest vocabulary
entry at each position (continuations prefixed by ``suffix_indicator``). As in
onnxruntime-extensions, a word that runs out of matches keeps the pieces found and ends with
the unknown token, and ``max_length`` truncates a single text only.

``pad_token``, ``mask_token``, ``tokenize_punctuation``, ``remove_control_chars`` and
``truncation_strategy_name`` are accepted and not acted on.

Known differences: offset_mapping holds the character offsets of each token in its text
(onnxruntime-extensions' own offsets are off after punctuation, unknown words and non-ASCII
text), and control characters are dropped.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

from onyx.ops.extensions.strings import _LOWER
from onyx.ops.extensions import DOMAIN
from onyx.ops.registry import kernel



@functools.lru_cache(maxsize=8)
def _vocabulary(vocab_file: str) -> dict[str, int]:
    """One token per line (the attribute holds the vocabulary file's text), ids by line number."""
    vocab: dict[str, int] = {}
    for line in vocab_file.split("\n"):
        token = line.strip()
        if token and token not in vocab:
            vocab[token] = len(vocab)
    return vocab


def _is_cjk(c: str) -> bool:
    cp = ord(c)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")


def _words(text: str, lower: bool, strip_accents: bool, split_cjk: bool) -> list[tuple[str, int, int]]:
    """(word, start, end) of the basic tokenizer: character offsets into ``text``."""
    words: list[tuple[str, int, int]] = []
    current, start = [], 0

    def flush(end: int) -> None:
        if current:
            words.append(("".join(current), start, end))
            current.clear()

    for i, c in enumerate(text):
        if c.isspace():
            flush(i)
        elif _is_control(c):
            continue
        elif _is_punctuation(c) or (split_cjk and _is_cjk(c)):
            flush(i)
            words.append((c, i, i + 1))
        else:
            if not current:
                start = i
            current.append(c)
    flush(len(text))
    result = []
    for word, begin, end in words:
        if lower:
            word = word.translate(_LOWER)
        if strip_accents:
            word = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")
        result.append((word, begin, end))
    return result


def _word_pieces(word: str, begin: int, vocab: dict[str, int], unk: int, suffix: str,
                 max_chars: int) -> list[tuple[int, int, int]]:
    """(id, start, end) of the longest-match-first pieces of one word."""
    if len(word) > max_chars:
        return [(unk, begin, begin + len(word))]
    pieces, position = [], 0
    while position < len(word):
        for end in range(len(word), position, -1):
            piece = word[position:end] if position == 0 else suffix + word[position:end]
            if piece in vocab:
                pieces.append((vocab[piece], begin + position, begin + end))
                position = end
                break
        else:
            pieces.append((unk, begin + position, begin + len(word)))
            break
    return pieces


@kernel("BertTokenizer", since=1, domain=DOMAIN)
def bert_tokenizer(text, *, vocab_file="", do_lower_case=1, do_basic_tokenize=1, unk_token="[UNK]",
                   sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                   tokenize_chinese_chars=1, strip_accents=0, tokenize_punctuation=1, remove_control_chars=1,
                   suffix_indicator="##", max_length=-1, max_input_chars_per_word=100,
                   truncation_strategy_name="longest_first"):
    texts = [str(t) for t in np.asarray(text).reshape(-1)]
    if len(texts) not in (1, 2):
        raise ValueError(f"BertTokenizer takes one text or a pair, got {len(texts)}")
    vocab = _vocabulary(vocab_file)
    missing = [t for t in (unk_token, sep_token, cls_token) if t not in vocab]
    if missing:
        raise ValueError(f"BertTokenizer: the vocabulary has no {', '.join(missing)}")
    unk = vocab[unk_token]
    sequences = []
    for t in texts:
        words = (_words(t, bool(do_lower_case), bool(strip_accents), bool(tokenize_chinese_chars))
                 if do_basic_tokenize else [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", t)])
        sequences.append([p for w, b, _ in words
                          for p in _word_pieces(w, b, vocab, unk, suffix_indicator, max_input_chars_per_word)])
    if len(sequences) == 1 and max_length > 0:
        sequences[0] = sequences[0][:max(max_length - 2, 0)]
    cls, sep = (vocab[cls_token], 0, 0), (vocab[sep_token], 0, 0)
    tokens, types = [cls, *sequences[0], sep], [0] * (len(sequences[0]) + 2)
    if len(sequences) == 2:
        tokens += [*sequences[1], sep]
        types += [1] * (len(sequences[1]) + 1)
    ids = np.array([t[0] for t in tokens], dtype=np.int64)
    offsets = np.array([t[1:] for t in tokens], dtype=np.int64).reshape(-1, 2)
    return ids, np.array(types, dtype=np.int64), np.ones(len(ids), dtype=np.int64), offsets
