"""Backend-suite tests onyx is known to fail, each with the reason. Shrink it; never grow it silently.

Keys are regular expressions matched (re.search) against test names such as
``test_conv_with_strides_padding_cpu``. Tests in UNCHECKABLE are not run (their expected data
cannot decide); an expected failure that starts passing fails the run (unittest's unexpected
success), so this list cannot go stale.
"""

UNCHECKABLE: dict[str, str] = {
    r"^test_bernoulli": (
        "expected outputs are unseeded draws from NumPy's global RandomState made when the suite "
        "was generated (the seed attribute is not used by the generator); no runtime can reproduce them, "
        "and a draw that happens to equal them would pass, so they are not run (tests/ops/test_random.py "
        "checks Bernoulli's distribution and dtypes instead)"
    ),
}

EXPECTED_FAILURES: dict[str, str] = {
    r"^test_loop16_seq_none_cpu": (
        "onnx's runner cannot compare a sequence whose first tensor is 0-d (it calls len() on it); "
        "onyx's output equals the expected sequence"
    ),
    r"^test_attention_4d_causal_fp16_expanded_cpu": (
        "the expanded graph rounds every intermediate to float16; the expected data were computed at "
        "higher precision and differ by one float16 ulp (> rtol 1e-3) in 2 of 192 elements"
    ),
    r"^test_gradient_of_add": (
        "ai.onnx.preview.training Gradient needs automatic differentiation of the graph, which onyx "
        "does not implement"
    ),
}
