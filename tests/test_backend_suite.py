"""The official ONNX backend test suite, generated from the installed onnx package, run at
onyx's default optimization level (all passes)."""

import onnx.backend.test

import onyx.backend
from expected_failures import EXPECTED_FAILURES, UNCHECKABLE

backend_test = onnx.backend.test.BackendTest(onyx.backend, __name__)
for pattern in EXPECTED_FAILURES:
    backend_test.xfail(pattern)
for pattern in UNCHECKABLE:
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
