"""Backend-suite tests onyx is known to fail, each with the reason. Shrink it; never grow it silently.

Keys are regular expressions matched (re.search) against test names such as
``test_conv_with_strides_padding_cpu``.
"""

EXPECTED_FAILURES: dict[str, str] = {}
