"""String kernels against onnxruntime on cases the backend suite does not cover: string pools,
IDF/TFIDF weighting, 3-grams with skips, maxsplit with whitespace, case-insensitive stop words,
and RE2-only pattern checks."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from onyx.errors import OnyxError
import oracle
from oracle import assert_outputs_match, single_node_model


def run_both(op_type, x, out_types, opset=20, **attrs):
    """Outputs of a one-node model from onyx and from onnxruntime; out_types are (type, rank) pairs."""
    output_types = [(t, [f"d{i}" for i in range(r)]) for t, r in out_types]
    model = single_node_model(op_type, {"x": x}, len(out_types), opset=opset, output_types=output_types,
                              infer_types=False, **attrs)
    return oracle.run_both(model, {"x": x})


def assert_same(ours, theirs):
    assert_outputs_match(ours, theirs, exact=True)


TOKENS = np.array(
    [["the", "cat", "sat", "on", "the", "mat", "the", "cat"], ["a", "cat", "the", "cat", "sat", "x", "on", "mat"]],
    dtype=object,
)
STRING_POOL = dict(
    pool_strings=["cat", "the", "mat", "the", "cat", "cat", "sat", "the", "cat", "sat"],
    ngram_counts=[0, 3, 7],
    ngram_indexes=[4, 0, 1, 2, 3, 6, 5],
)


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize(("min_n", "max_n", "skips"), [(1, 1, 0), (1, 3, 0), (2, 3, 2), (1, 3, 5)])
def test_tfidf_string_pool(mode, min_n, max_n, skips):
    attrs = dict(STRING_POOL, mode=mode, min_gram_length=min_n, max_gram_length=max_n, max_skip_count=skips,
                 weights=[0.5, 1.5, 2.0, 0.25, 3.0, 1.0, 4.0])
    ours, theirs = run_both("TfIdfVectorizer", TOKENS, [(TensorProto.FLOAT, 2)], opset=9, **attrs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert ours[0].dtype == np.float32


def test_tfidf_int64_pool_one_dimensional_input():
    x = np.array([4, 1, 4, 2, 9, 4, 1, 2, 4], np.int64)
    attrs = dict(mode="TF", min_gram_length=1, max_gram_length=2, max_skip_count=3,
                 pool_int64s=[4, 9, 1, 4, 4, 2], ngram_counts=[0, 2], ngram_indexes=[1, 0, 3, 2])
    assert_same(*run_both("TfIdfVectorizer", x, [(TensorProto.FLOAT, 1)], opset=9, **attrs))


@pytest.mark.parametrize("maxsplit", [None, 0, 1, 3])
@pytest.mark.parametrize("delimiter", [None, "", " ", "ab"])
def test_string_split(delimiter, maxsplit):
    x = np.array([["  lead and trail  ", "xabyabzab"], ["", "one"]], dtype=object)
    attrs = {"delimiter": delimiter} if delimiter is not None else {}
    if maxsplit is not None:
        attrs["maxsplit"] = maxsplit
    ours, theirs = run_both("StringSplit", x, [(TensorProto.STRING, 3), (TensorProto.INT64, 2)], **attrs)
    assert_same(ours, theirs)


@pytest.mark.parametrize("action", ["NONE", "LOWER", "UPPER"])
@pytest.mark.parametrize("case_sensitive", [0, 1])
def test_string_normalizer(action, case_sensitive):
    x = np.array([["Monday", "MONDAY", "tuesday", "Wednesday", "friDay"]], dtype=object)
    attrs = dict(case_change_action=action, is_case_sensitive=case_sensitive, stopwords=["monday", "Wednesday"],
                 locale="C.UTF-8")  # the default en_US locale may be missing where onnxruntime runs
    assert_same(*run_both("StringNormalizer", x, [(TensorProto.STRING, 2)], opset=10, **attrs))


def test_string_normalizer_all_dropped_one_dimensional():
    x = np.array(["a", "A"], dtype=object)
    ours, theirs = run_both("StringNormalizer", x, [(TensorProto.STRING, 1)], opset=10, stopwords=["a"], locale="C.UTF-8")
    assert_same(ours, theirs)
    assert ours[0].tolist() == [""]


def test_regex_full_match_against_onnxruntime():
    x = np.array([["abc123", "ABC", ""], ["a1", "zzz9", "abc123x"]], dtype=object)
    assert_same(*run_both("RegexFullMatch", x, [(TensorProto.BOOL, 2)], pattern=r"[a-z]+\d*"))


@pytest.mark.parametrize("pattern", [r"(a)\1", r"a(?=b)", r"(?<!x)a", r"(?P<n>a)(?P=n)"])
def test_regex_rejects_python_only_syntax(pattern):
    x = np.array(["aa"], dtype=object)
    graph = helper.make_graph(
        [helper.make_node("RegexFullMatch", ["x"], ["y"], pattern=pattern)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.STRING, [1])],
        [helper.make_tensor_value_info("y", TensorProto.BOOL, [1])],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()
    with pytest.raises(OnyxError, match="RE2"):
        onyx.InferenceSession(data).run(None, {"x": x})
