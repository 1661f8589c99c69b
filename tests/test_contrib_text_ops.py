"""onnxruntime-extensions' ai.onnx.contrib string operators and BertTokenizer, against
onnxruntime with onnxruntime-extensions' library loaded."""

from __future__ import annotations

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
