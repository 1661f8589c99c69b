"""onyx.backend beyond what the backend suite drives: run_node, run_model, devices."""

import numpy as np
import pytest
from onnx import helper

import onyx
import onyx.backend
from onyx import devices, providers
from onyx.providers.partition import ProviderFallbackWarning
from models import add_model


def test_run_node_runs_a_single_node():
    node = helper.make_node("Add", ["x", "y"], ["z"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (z,) = onyx.backend.run_node(node, [x, x])
    np.testing.assert_array_equal(z, 2 * x)


def test_run_node_with_attributes_and_several_outputs():
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=1)
    x = np.array([[3, 1, 2], [0, 5, 4]], dtype=np.float32)
    values, indices = onyx.backend.run_node(node, [x, np.array([2], dtype=np.int64)])
    assert values.tolist() == [[3, 2], [5, 4]] and indices.tolist() == [[0, 2], [1, 2]]


def test_run_model_takes_a_list_or_a_dict():
    model = add_model()
    a = np.ones((2, 3), np.float32)
    assert onyx.backend.run_model(model, [a, a])[0].tolist() == (2 * a).tolist()
    assert onyx.backend.run_model(model, {"a": a, "b": a}).y.tolist() == (2 * a).tolist()


def test_devices():
    assert onyx.backend.supports_device("CPU")
    cuda = devices.cuda_usable() and "TorchExecutionProvider" in onyx.get_available_providers()
    assert onyx.backend.supports_device("CUDA") == cuda
    assert onyx.get_device() == ("GPU" if cuda else "CPU")
    if not cuda:
        with pytest.raises(ValueError, match="CUDA"):
            onyx.backend.prepare(add_model(), device="CUDA:0")
    assert onyx.backend.is_compatible(add_model())


class _TorchStandIn(providers.ExecutionProvider):
    """Stands for the Torch provider: claims nothing, keeps its options."""

    name = "TorchExecutionProvider"
    device = "cuda-stand-in"

    def capability(self, graph, opset):
        return []


def test_cuda_devices_run_on_the_torch_provider(monkeypatch):
    monkeypatch.setitem(providers._REGISTERED, _TorchStandIn.name, _TorchStandIn)
    monkeypatch.setattr(devices, "cuda_usable", lambda: True)
    assert onyx.backend.supports_device("CUDA") and onyx.get_device() == "GPU"
    with pytest.warns(ProviderFallbackWarning, match="TorchExecutionProvider does not claim"):
        rep = onyx.backend.prepare(add_model(), device="CUDA:1")
    assert rep.session.get_providers() == ["TorchExecutionProvider", "CPUExecutionProvider"]
    assert rep.session.get_provider_options()["TorchExecutionProvider"]["device"] == "cuda:1"
    a = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(rep.run([a, a])[0], 2 * a)
