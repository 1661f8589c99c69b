"""ai.onnx.contrib SentencepieceTokenizer: a SentencePiece unigram model (the ``model``
attribute, a serialized sentencepiece ModelProto) applied to text [N] -> token ids (flat,
int32), row starts [N + 1] and each token's byte offset in its text.

The text is normalized with the model's precompiled character map (a Darts double-array trie
of replacements, longest match first) and its whitespace rules, then split by Viterbi over
the pieces' scores (sentencepiece's unigram algorithm: unknown characters cost the lowest score
minus 10, runs of them become one unknown token). Sampling (nbest_size other than 0 or 1) and
BPE models are not supported.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

from onyx.model.wire import _fields, _read_varint  # the protobuf wire format, read by hand
from onyx.ops.extensions import DOMAIN
from onyx.ops.registry import kernel

_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_UNK_PENALTY = np.float32(10.0)
_SPACE = "\u2581".encode()


def _varint_field(data: bytes, start: int, end: int) -> int:
    value = _read_varint(data, start, end)[0]
    return value - (1 << 64) if value >= 1 << 63 else value  # int32 fields are sign-extended


class _Model:
    """What the tokenizer needs of a sentencepiece ModelProto."""

    def __init__(self, data: bytes):
        self.pieces: dict[bytes, tuple[int, np.float32, int]] = {}  # piece -> (id, score, type)
        self.model_type, self.unk_id, self.bos_id, self.eos_id = 1, 0, 1, 2
        self.charsmap, self.add_dummy_prefix, self.remove_extra_whitespaces, self.escape_whitespaces = b"", True, True, True
        self.treat_whitespace_as_suffix = False
        index = 0
        for number, _, _, start, end in _fields(data, 0, len(data)):
            if number == 1:
                self._piece(data, start, end, index)
                index += 1
            elif number == 2:
                self._trainer_spec(data, start, end)
            elif number == 3:
                self._normalizer_spec(data, start, end)
        if self.model_type != 1:
            raise ValueError("SentencepieceTokenizer: only unigram models are supported")
        scores = [s for _, s, t in self.pieces.values() if t == _NORMAL]
        self.min_score = min(scores, default=np.float32(0))
        self.max_score = max(scores, default=np.float32(0))
        self.max_piece_bytes = max((len(p) for p in self.pieces), default=1)
        self.trie, self.replacements = _split_charsmap(self.charsmap)

    def _piece(self, data: bytes, start: int, end: int, index: int) -> None:
        piece, score, kind = b"", np.float32(0), _NORMAL
        for number, _, _, s, e in _fields(data, start, end):
            if number == 1:
                piece = bytes(data[s:e])
            elif number == 2:
                score = np.float32(struct.unpack("<f", data[s:e])[0])
            elif number == 3:
                kind = _varint_field(data, s, e)
        if kind in (_NORMAL, _USER_DEFINED, _UNUSED):
            self.pieces[piece] = (index, score, kind)

    def _trainer_spec(self, data: bytes, start: int, end: int) -> None:
        for number, _, _, s, e in _fields(data, start, end):
            if number == 3:
                self.model_type = _varint_field(data, s, e)
            elif number == 24:
                self.treat_whitespace_as_suffix = bool(_varint_field(data, s, e))
            elif number in (40, 41, 42):
                setattr(self, {40: "unk_id", 41: "bos_id", 42: "eos_id"}[number], _varint_field(data, s, e))

    def _normalizer_spec(self, data: bytes, start: int, end: int) -> None:
        for number, _, _, s, e in _fields(data, start, end):
            if number == 2:
                self.charsmap = bytes(data[s:e])
            elif number in (3, 4, 5):
                name = {3: "add_dummy_prefix", 4: "remove_extra_whitespaces", 5: "escape_whitespaces"}[number]
                setattr(self, name, bool(_varint_field(data, s, e)))


def _split_charsmap(charsmap: bytes) -> tuple[np.ndarray, bytes]:
    """The double-array trie (uint32 units) and the blob of NUL-terminated replacements."""
    if not charsmap:
        return np.zeros(0, np.uint32), b""
    size = struct.unpack("<I", charsmap[:4])[0]
    return np.frombuffer(charsmap[4:4 + size], dtype="<u4").astype(np.int64), charsmap[4 + size:]


def _longest_replacement(trie: np.ndarray, key: bytes, start: int) -> tuple[int, int]:
    """(length, blob offset) of the longest key[start:] prefix in the trie; (0, 0) if none.
    A Darts-clone unit: bit 8 has-leaf, bits 0-7 the label, the offset in bits 10-31 (shifted
    left 8 when bit 9 is set), the value in bits 0-30."""
    if not len(trie):
        return 0, 0
    unit = int(trie[0])
    node = (unit >> 10) << ((unit & (1 << 9)) >> 6)
    best = (0, 0)
    for i in range(start, len(key)):
        node ^= key[i]
        unit = int(trie[node])
        if unit & ((1 << 31) | 0xFF) != key[i]:
            break
        node ^= (unit >> 10) << ((unit & (1 << 9)) >> 6)
        if (unit >> 8) & 1:
            best = (i + 1 - start, int(trie[node]) & ((1 << 31) - 1))
    return best


def _char_length(text: bytes, i: int) -> int:
    lead = text[i]
    length = 1 if lead < 0x80 else 2 if lead >> 5 == 6 else 3 if lead >> 4 == 14 else 4 if lead >> 3 == 30 else 1
    return length if i + length <= len(text) else 1


def _normalize(model: _Model, text: bytes) -> tuple[bytes, list[int]]:
    """The normalized text and, for each of its bytes, the byte offset in ``text`` it came from."""
    out, origin = bytearray(), []
    space = _SPACE if model.escape_whitespaces else b" "

    def prefix(i: int) -> tuple[bytes, int]:
        length, value = _longest_replacement(model.trie, text, i)
        if length:
            return model.replacements[value:model.replacements.index(b"\0", value)], length
        n = _char_length(text, i)
        try:
            text[i:i + n].decode("utf-8")
        except UnicodeDecodeError:
            return "\ufffd".encode(), 1  # a malformed byte: U+FFFD, one byte consumed
        return text[i:i + n], n

    i = 0
    if model.remove_extra_whitespaces:
        while i < len(text):
            piece, n = prefix(i)
            if piece != b" ":
                break
            i += n
    if i == len(text):
        return b"", []
    if model.add_dummy_prefix and not model.treat_whitespace_as_suffix:
        out += space
        origin += [i] * len(space)
    previous_space = model.remove_extra_whitespaces
    while i < len(text):
        piece, n = prefix(i)
        if previous_space and model.remove_extra_whitespaces:
            piece = piece.lstrip(b" ")
        if piece:
            for b in piece:
                chunk = space if model.escape_whitespaces and b == 0x20 else bytes([b])
                out += chunk
                origin += [i] * len(chunk)
            previous_space = piece.endswith(b" ")
        i += n
        if not model.remove_extra_whitespaces:
            previous_space = False
    if model.remove_extra_whitespaces:
        while out.endswith(space):
            del out[-len(space):]
            del origin[-len(space):]
    if model.add_dummy_prefix and model.treat_whitespace_as_suffix:
        out += space
        origin += [len(text)] * len(space)
    return bytes(out), origin


def _viterbi(model: _Model, text: bytes) -> list[tuple[int, int]]:
    """(piece id, start byte) of the best segmentation of the normalized ``text``."""
    n = len(text)
    best_score = [np.float32(0)] + [None] * n
    best_from: list[tuple[int, int]] = [(-1, -1)] * (n + 1)  # (start, id) of the last piece
    unk_score = model.min_score - _UNK_PENALTY
    position = 0
    while position < n:
        if best_score[position] is None:
            position += 1
            continue
        char = _char_length(text, position)
        single = False
        for length in range(1, min(model.max_piece_bytes, n - position) + 1):
            found = model.pieces.get(text[position:position + length])
            if found is None:
                continue
            piece_id, score, kind = found
            if kind == _UNUSED:
                continue
            if kind == _USER_DEFINED:
                score = np.float32(length) * model.max_score - np.float32(0.1)
            total = np.float32(best_score[position] + score)
            end = position + length
            if best_score[end] is None or total > best_score[end]:
                best_score[end], best_from[end] = total, (position, piece_id)
            single = single or length == char
        if not single:
            end = min(position + char, n)
            total = np.float32(best_score[position] + unk_score)
            if best_score[end] is None or total > best_score[end]:
                best_score[end], best_from[end] = total, (position, model.unk_id)
        position += char
    pieces, end = [], n
    while end > 0:
        start, piece_id = best_from[end]
        pieces.append((piece_id, start))
        end = start
    pieces.reverse()
    merged: list[tuple[int, int]] = []
    for piece_id, start in pieces:  # a run of unknown characters is one unknown token
        if piece_id == model.unk_id and merged and merged[-1][0] == model.unk_id:
            continue
        merged.append((piece_id, start))
    return merged


@functools.lru_cache(maxsize=4)
def _model(data: bytes) -> _Model:
    return _Model(data)


def _flag(value, default: bool = False) -> bool:
    return default if value is None or np.asarray(value).size == 0 else bool(np.asarray(value).reshape(-1)[0])


@kernel("SentencepieceTokenizer", since=1, domain=DOMAIN)
def sentencepiece_tokenizer(inputs, nbest_size=None, alpha=None, add_bos=None, add_eos=None, reverse=None,
                            fairseq=None, *, model=b""):
    sp = _model(model if isinstance(model, bytes) else model.encode("utf-8"))
    nbest = 0 if nbest_size is None or np.asarray(nbest_size).size == 0 else int(np.asarray(nbest_size).reshape(-1)[0])
    if nbest not in (0, 1):
        raise ValueError("SentencepieceTokenizer: sampling (nbest_size other than 0 or 1) is not supported")
    tokens, starts, offsets = [], [0], []
    for text in np.asarray(inputs).reshape(-1):
        raw = str(text).encode("utf-8")
        normalized, origin = _normalize(sp, raw)
        row = [(piece_id, origin[start]) for piece_id, start in _viterbi(sp, normalized)]
        if _flag(add_bos):
            row.insert(0, (sp.bos_id, 0))
        if _flag(add_eos):
            row.append((sp.eos_id, len(raw)))
        if _flag(reverse):
            row.reverse()
        if _flag(fairseq):  # fairseq's dictionary: <s> 0, <pad> 1, </s> 2, <unk> 3, the rest one up
            special = {sp.unk_id: 3, sp.bos_id: 0, sp.eos_id: 2}
            row = [(special.get(i, i + 1), o) for i, o in row]
        tokens += [i for i, _ in row]
        offsets += [o for _, o in row]
        starts.append(len(tokens))
    return np.array(tokens, np.int32), np.array(starts, np.int64), np.array(offsets, np.int32)
