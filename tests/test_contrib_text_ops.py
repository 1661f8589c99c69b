"""onnxruntime-extensions' ai.onnx.contrib string operators and BertTokenizer, against
onnxruntime with onnxruntime-extensions' library loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx

ort = pytest.importorskip("onnxruntime")
extensions = pytest.importorskip("onnxruntime_extensions", reason="onnxruntime-extensions is not installed")

DOMAIN = "ai.onnx.contrib"


def S(*values):
    return np.array(values, dtype=object)


def _model(op: str, inputs: list[np.ndarray], n_outputs: int, attrs: dict) -> bytes:
    def elem(v):
        return TensorProto.STRING if v.dtype == object else helper.np_dtype_to_tensor_dtype(v.dtype)

    ins = [helper.make_tensor_value_info(f"in{i}", elem(v), None) for i, v in enumerate(inputs)]
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op, [i.name for i in ins], outs, domain=DOMAIN, **attrs)
    graph = helper.make_graph([node], "g", ins, [helper.make_value_info(o, helper.TypeProto()) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)])
    return model.SerializeToString()


def both(op: str, inputs: list[np.ndarray], n_outputs: int = 1, **attrs):
    """(onyx's outputs, onnxruntime-extensions' outputs) of one node."""
    model = _model(op, inputs, n_outputs, attrs)
    feeds = {f"in{i}": v for i, v in enumerate(inputs)}
    options = ort.SessionOptions()
    options.register_custom_ops_library(extensions.get_library_path())
    expected = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    return onyx.InferenceSession(model).run(None, feeds), expected


def assert_same(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape, (a, e)
        assert a.tolist() == e.tolist(), (a, e)


WORDS = S("Hello World", "ÀÉÖ ß straße", "ΣΑΣ Жук", "", "MiXeD 123 !?", "ἈἘ ǅ İ")


@pytest.mark.parametrize("op", ["StringLower", "StringUpper", "StringLength"])
def test_case_and_length(op):
    assert_same(*both(op, [WORDS]))
    assert_same(*both(op, [WORDS.reshape(2, 3)]))


def test_concat_and_equal():
    assert_same(*both("StringConcat", [WORDS, WORDS[::-1].copy()]))
    assert_same(*both("StringEqual", [S("a", "b", "c"), S("b")]))
    assert_same(*both("StringEqual", [S("a", "b", "c"), S("a", "x", "c")]))


@pytest.mark.parametrize("axis", [0, 1])
def test_join(axis):
    table = np.array([["a", "b", "c"], ["d", "", "f"]], dtype=object)
    assert_same(*both("StringJoin", [table, S("-"), np.array(axis, np.int64)]))
    assert_same(*both("StringJoin", [S("x", "y"), S(", "), np.array(0, np.int64)]))


@pytest.mark.parametrize("sep", [" ", "ab", ", ", ""])
@pytest.mark.parametrize("skip_empty", [True, False])
def test_split(sep, skip_empty):
    text = S("a b  c", "", "xabyabab", "one, two,,three", "end ")
    assert_same(*both("StringSplit", [text, S(sep), np.array(skip_empty)], 3))


@pytest.mark.parametrize("pattern, rewrite, global_replace", [
    ("[0-9]+", "<\\0>", 1), ("([0-9]+)", "<\\1>", 0), ("(\\w+) (\\w+)", "\\2 \\1", 1),
    ("a*", "-", 1), ("\\s+", " ", 1), ("^", ">", 1),
])
def test_regex_replace(pattern, rewrite, global_replace):
    text = S("a1b22c333", "Hello World  again", "baaac", "", "aaa")
    assert_same(*both("StringRegexReplace", [text, S(pattern), S(rewrite)], global_replace=global_replace))


VOCAB = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox", "jump", "##s",
                   "##ed", "over", "lazy", "dog", ".", ",", "!", "'", "a", "##b", "##c", "un", "##believ", "##able",
                   "cafe", "中", "hello", "world", "?", "-", "école", "##ing", "run", "##n", "i"])

SENTENCES = [
    ["The quick brown fox jumps over the lazy dog."],
    ["Hello, world!", "unbelievable café 中文"],
    ["zzz abc abz abzab jumpsed"],
    ["THE Dog, running!!  and\tthe\u00a0dog"],
    ["ÉCOLE café 中中the"],
    [""],
    ["", ""],
    ["I'm a dog-runner?"],
    ["the the", "dog dog dog dog dog"],
]


@pytest.mark.parametrize("texts", SENTENCES, ids=range(len(SENTENCES)))
@pytest.mark.parametrize("attrs", [{}, {"strip_accents": 1}, {"do_lower_case": 0}, {"tokenize_chinese_chars": 0},
                                   {"max_length": 6}], ids=lambda a: ",".join(a) or "defaults")
def test_bert_tokenizer(texts, attrs):
    actual, expected = both("BertTokenizer", [S(*texts)], 4, vocab_file=VOCAB, **attrs)
    assert_same(actual[:3], expected[:3])  # input_ids, token_type_ids, attention_mask
    assert actual[3].shape == expected[3].shape and actual[3].dtype == np.int64


def test_bert_offsets_are_character_offsets():
    (ids, _, _, offsets), expected = both("BertTokenizer", [S("The quick fox jumps over the lazy dog")], 4,
                                          vocab_file=VOCAB)
    assert offsets.tolist() == expected[3].tolist()  # where onnxruntime-extensions' offsets are right
    text = "dog.the café"
    (_, _, _, offsets), _ = both("BertTokenizer", [S(text)], 4, vocab_file=VOCAB, strip_accents=1)
    assert [text[b:e] for b, e in offsets.tolist()] == ["", "dog", ".", "the", "café", ""]


def test_bert_tokenizer_takes_one_or_two_texts():
    model = _model("BertTokenizer", [S("a", "b", "c")], 4, {"vocab_file": VOCAB})
    with pytest.raises(onyx.KernelError, match="one text or a pair"):
        onyx.InferenceSession(model).run(None, {"in0": S("a", "b", "c")})


def _gpt2_vocab() -> tuple[str, str]:
    """A toy byte-level BPE: GPT-2's 256 byte characters, a few merges and <|endoftext|>."""
    from onyx.ops.extensions.gpt2_tokenizer import _byte_chars

    vocab = {c: i for i, c in enumerate(_byte_chars())}
    merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o", "r l", "Ġwo rl", "Ġworl d", "Ġ t", "Ġt h", "Ġth e",
              "1 2", "Ġ ĠĠ", "Ġ Ġ", "e r"]
    for merge in merges:
        vocab[merge.replace(" ", "")] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return json.dumps(vocab), "#version: 0.2\n" + "\n".join(merges)


GPT2_TEXTS = [
    ["hello world"],
    ["hello world", "the"],
    ["hello  world the12 it's ok!"],
    ["héllo 中文 ñ", "   three spaces then\ttab\n\nnewlines  "],
    [""],
    ["hello<|endoftext|>world", "<|endoftext|>"],
    ["We're here, they'll go; I'd say 123,456.78 -- ¿qué? ²³"],
]


@pytest.mark.parametrize("texts", GPT2_TEXTS, ids=range(len(GPT2_TEXTS)))
@pytest.mark.parametrize("padding_length", [-1, 3, 40])
def test_gpt2_tokenizer(texts, padding_length):
    vocab, merges = _gpt2_vocab()
    actual, expected = both("GPT2Tokenizer", [S(*texts)], 3, vocab=vocab, merges=merges, padding_length=padding_length)
    assert_same(actual[:2], expected[:2])  # input_ids, attention_mask
    assert actual[2].shape == expected[2].shape


def test_gpt2_offsets_are_character_offsets():
    vocab, merges = _gpt2_vocab()
    text = "hello  wörld<|endoftext|>"
    (_, mask, offsets), _ = both("GPT2Tokenizer", [S(text, "the")], 3, vocab=vocab, merges=merges)
    pieces = [text[b:e] for b, e in offsets[0].tolist()]
    assert pieces == ["hello", " ", " w", "ö", "ö", "rl", "d", "<|endoftext|>"]  # ö is two bytes
    assert offsets[1, mask[1].sum():].tolist() == [[-1, -1]] * (len(pieces) - mask[1].sum())


def _sentencepiece_model(**options) -> bytes:
    """A small unigram model trained here with the sentencepiece package."""
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece is not installed")
    import io

    corpus = ["The quick brown fox jumps over the lazy dog.", "Hello world, this is a small corpus for testing.",
              "Tokenizers split text into pieces; pieces become ids.",
              "Ünïcödé and ＦＵＬＬＷＩＤＴＨ text, numbers 12345 too!"] * 30
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, model_type="unigram",
                                   minloglevel=2, **options)
    return model.getvalue()


SP_TEXTS = [["Hello world"], ["Hello ＦＵＬＬ world!  x", "the fox"], ["  lots   of   space  "], [""],
            ["ẞ zzz qqq Ünïcödé", "ẞẞ ①②③ ﬁ ㌀ Ａ\u3000b"], ["\t tab\nnew  "]]
SP_MODELS = {
    "nmt_nfkc": {"vocab_size": 69},
    "identity, spaces kept": {"vocab_size": 60, "normalization_rule_name": "identity", "add_dummy_prefix": False,
                              "remove_extra_whitespaces": False},
    "user symbols": {"vocab_size": 60, "user_defined_symbols": ["<sep>", "fox"], "normalization_rule_name": "nfkc"},
}


@pytest.mark.parametrize("settings", list(SP_MODELS))
@pytest.mark.parametrize("flags", [(False, False, False, False), (True, True, False, False), (True, False, True, False),
                                   (True, True, False, True)], ids=["plain", "bos+eos", "bos+reverse", "fairseq"])
def test_sentencepiece_tokenizer(settings, flags):
    model = _sentencepiece_model(**SP_MODELS[settings])
    add_bos, add_eos, reverse, fairseq = flags
    for texts in SP_TEXTS + [["a <sep> fox", "foxes"]]:
        inputs = [S(*texts), np.array([0], np.int64), np.array([0], np.float32), np.array([add_bos]),
                  np.array([add_eos]), np.array([reverse]), np.array([fairseq])]
        assert_same(*both("SentencepieceTokenizer", inputs, 3, model=model))
