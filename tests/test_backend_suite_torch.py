"""The official ONNX backend test suite a third time, through the Torch execution provider
(``providers=["TorchExecutionProvider", "CPUExecutionProvider"]``): the nodes it claims run as
torch.fx GraphModules, the rest falls back to the CPU provider, and every test the CPU provider
passes must pass."""

import warnings

import onnx.backend.test
import pytest

from expected_failures import EXPECTED_FAILURES, UNCHECKABLE
from onyx.backend import OnyxBackend, OnyxRep
from onyx.providers.partition import ProviderFallbackWarning
from onyx.session import InferenceSession

pytest.importorskip("torch", reason="the [torch] extra is not installed")

PROVIDERS = ["TorchExecutionProvider", "CPUExecutionProvider"]


class TorchBackend(OnyxBackend):
    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        if not cls.supports_device(device):
            raise ValueError(f"onyx cannot run on device '{device}'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ProviderFallbackWarning)
            return OnyxRep(InferenceSession(model, kwargs.get("sess_options"), providers=PROVIDERS))


backend_test = onnx.backend.test.BackendTest(TorchBackend, __name__)
for pattern in EXPECTED_FAILURES:
    backend_test.xfail(pattern)
for pattern in UNCHECKABLE:
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
