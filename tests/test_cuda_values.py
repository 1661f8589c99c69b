"""OrtValues and IOBinding on a real CUDA device (runs only where torch sees a GPU; CI has none,
and tests/test_device_values.py covers the same paths with torch's CPU playing the device)."""

import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx as ort

torch = pytest.importorskip("torch", reason="device values are torch tensors: the [torch] extra")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU visible to torch")

X = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], np.float32)


def _model():
    """y = Relu(x) + x, z = y * x."""
    vec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in "xyz"]
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"]),
             helper.make_node("Mul", ["y", "x"], ["z"])]
    graph = helper.make_graph(nodes, "g", vec[:1], vec[1:])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_ortvalue_on_cuda():
    value = ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    assert value.device_name() == "cuda" and value._value.is_cuda
    assert value.__dlpack_device__() == (2, 0)
    np.testing.assert_array_equal(value.numpy(), X)
    tensor = torch.from_dlpack(value)
    assert tensor.is_cuda and tensor.data_ptr() == value.data_ptr()
    source = torch.arange(6.0, device="cuda").reshape(2, 3)
    back = ort.OrtValue.from_dlpack(source)
    assert back.device_name() == "cuda" and back.data_ptr() == source.data_ptr()


def test_iobinding_on_cuda_keeps_values_there():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = ort.InferenceSession(_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    source = torch.from_numpy(X).cuda()
    binding = session.io_binding()
    binding.bind_input("x", "cuda", 0, np.float32, [2, 3], source.data_ptr())
    binding.bind_output("y", "cuda", 0)
    out = ort.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32, "cuda", 0)
    binding.bind_ortvalue_output("z", out)
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    y, z = binding.get_outputs()
    assert y._value.is_cuda and z is out
    expected_y = np.maximum(X, 0) + X
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected_y * X, rtol=1e-6)
