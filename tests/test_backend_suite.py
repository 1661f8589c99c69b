"""The official ONNX backend test suite, generated from the installed onnx package."""

import onnx.backend.test

import onyx.backend
from expected_failures import EXPECTED_FAILURES

backend_test = onnx.backend.test.BackendTest(onyx.backend, __name__)
for pattern in EXPECTED_FAILURES:
    backend_test.xfail(pattern)

globals().update(backend_test.test_cases)
