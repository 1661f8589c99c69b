"""The official ONNX backend test suite again, with the graph optimizer disabled."""

import onnx.backend.test

import onyx
from expected_failures import EXPECTED_FAILURES, UNCHECKABLE
from onyx.backend import OnyxBackend


class UnoptimizedBackend(OnyxBackend):
    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        options = onyx.SessionOptions()
        options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
        return super().prepare(model, device, sess_options=options)


backend_test = onnx.backend.test.BackendTest(UnoptimizedBackend, __name__)
for pattern in EXPECTED_FAILURES:
    backend_test.xfail(pattern)
for pattern in UNCHECKABLE:
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
