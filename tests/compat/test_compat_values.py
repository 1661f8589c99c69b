"""OrtValue, IOBinding, run_with_ort_values, run_async and SparseTensor on the CPU."""

import threading

import numpy as np
import pytest
from onnx import TensorProto

from compat_models import double_model, session

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_ortvalue_from_numpy_shares_memory(rt):
    a = X.copy()
    value = rt.OrtValue.ortvalue_from_numpy(a)
    assert (value.shape(), value.data_type(), value.element_type(), value.device_name()) == ([2, 3], "tensor(float)", 1, "cpu")
    assert value.is_tensor() and value.has_value() and not value.is_sparse_tensor() and not value.is_tensor_sequence()
    assert value.data_ptr() == a.ctypes.data and value.tensor_size_in_bytes() == 24
    a[0, 0] = 100
    assert value.numpy()[0, 0] == 100


def test_ortvalue_update_inplace(rt):
    value = rt.OrtValue.ortvalue_from_numpy(X.copy())
    value.update_inplace(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(value.numpy(), np.ones((2, 3)))
    with pytest.raises(Exception):
        value.update_inplace(np.ones((3, 3), np.float32))


@pytest.mark.parametrize("element_type", [np.float32, np.dtype("float32"), TensorProto.FLOAT])
def test_ortvalue_from_shape_and_type(rt, element_type):
    value = rt.OrtValue.ortvalue_from_shape_and_type([2, 2], element_type)
    assert (value.shape(), value.data_type(), value.numpy().dtype) == ([2, 2], "tensor(float)", np.float32)


def test_ortvalue_on_an_unknown_device_is_refused(rt):
    with pytest.raises(Exception, match="tpu"):
        rt.OrtValue.ortvalue_from_numpy(X, "tpu", 0)


def test_ortdevice(rt):
    device = rt.OrtDevice.make("cpu", 0)
    assert (device.device_type(), device.device_id()) == (0, 0)
    assert rt.OrtDevice.make("cuda", 1).device_id() == 1  # a description: no device needed


def test_run_with_ort_values(rt):
    sess = session(rt, double_model())
    results = sess.run_with_ort_values(None, {"x": rt.OrtValue.ortvalue_from_numpy(X)})
    assert len(results) == 2 and all(isinstance(r, rt.OrtValue) for r in results)
    np.testing.assert_array_equal(results[0].numpy(), 2 * X)
    (z,) = sess.run_with_ort_values(["z"], {"x": rt.OrtValue.ortvalue_from_numpy(X)})
    np.testing.assert_array_equal(z.numpy(), 2 * X)


def test_iobinding_binds_inputs_by_reference_and_returns_outputs(rt):
    sess = session(rt, double_model())
    binding = sess.io_binding()
    a = X.copy()
    binding.bind_cpu_input("x", a)
    binding.bind_output("y")
    a[:] = 1  # bound by reference: the run sees this
    sess.run_with_iobinding(binding)
    (y,) = binding.copy_outputs_to_cpu()
    np.testing.assert_array_equal(y, np.full((2, 3), 2, np.float32))
    assert isinstance(binding.get_outputs()[0], rt.OrtValue)


def test_iobinding_writes_into_bound_ortvalues_and_buffers(rt):
    sess = session(rt, double_model())
    binding = sess.io_binding()
    binding.bind_input("x", "cpu", 0, np.float32, [2, 3], X.ctypes.data)
    out = rt.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32)
    binding.bind_ortvalue_output("z", out)
    buffer = np.zeros((2, 3), np.float32)
    binding.bind_output("y", "cpu", 0, np.float32, [2, 3], buffer.ctypes.data)
    sess.run_with_iobinding(binding)
    np.testing.assert_array_equal(out.numpy(), 2 * X)
    np.testing.assert_array_equal(buffer, 2 * X)


def test_iobinding_errors(rt):
    sess = session(rt, double_model())
    binding = sess.io_binding()
    with pytest.raises(Exception):
        binding.bind_cpu_input("nope", X)
    binding.bind_cpu_input("x", X)
    with pytest.raises(Exception, match="output"):
        sess.run_with_iobinding(binding)  # no output bound
    binding.bind_ortvalue_output("z", rt.OrtValue.ortvalue_from_shape_and_type([5, 3], np.float32))
    with pytest.raises(Exception, match="shape"):
        sess.run_with_iobinding(binding)


def _run_async(rt, feeds, names=None):
    done, seen = threading.Event(), {}

    def callback(results, user_data, error):
        seen.update(results=results, user_data=user_data, error=error)
        done.set()

    session(rt, double_model()).run_async(names, feeds, callback, "data")
    assert done.wait(30)
    return seen


def test_run_async_calls_back_with_results(rt):
    seen = _run_async(rt, {"x": X})
    assert (seen["user_data"], seen["error"]) == ("data", "")
    np.testing.assert_array_equal(seen["results"][1], 2 * X)
    assert len(_run_async(rt, {"x": X}, ["z"])["results"]) == 1


def test_run_async_reports_errors_to_the_callback(rt):
    seen = _run_async(rt, {"x": X.astype(np.float64)})
    assert seen["results"] == [] and "float" in seen["error"]


def test_sparse_tensor_coo(rt):
    device = rt.OrtDevice.make("cpu", 0)
    sparse = rt.SparseTensor.sparse_coo_from_numpy(np.array([3, 3]), np.array([1, 2], np.float32), np.array([0, 4]), device)
    assert sparse.format() == rt.OrtSparseFormat.ORT_SPARSE_COO
    assert (sparse.dense_shape(), sparse.data_type(), sparse.device_name()) == ([3, 3], "sparse_tensor(float)", "cpu")
    np.testing.assert_array_equal(sparse.as_coo_view().indices(), [0, 4])
    with pytest.raises(Exception):
        sparse.as_csrc_view()
    value = rt.OrtValue.ort_value_from_sparse_tensor(sparse)
    assert value.is_sparse_tensor() and not value.is_tensor() and value.shape() == [3, 3]
    np.testing.assert_array_equal(value.as_sparse_tensor().values(), [1, 2])
    with pytest.raises(Exception):
        value.numpy()


def test_sparse_tensor_csr(rt):
    device = rt.OrtDevice.make("cpu", 0)
    sparse = rt.SparseTensor.sparse_csr_from_numpy(
        np.array([3, 3]), np.array([1, 2], np.float32), np.array([0, 1]), np.array([0, 1, 2, 2]), device
    )
    assert sparse.format() == rt.OrtSparseFormat.ORT_SPARSE_CSRC
    view = sparse.as_csrc_view()
    np.testing.assert_array_equal(view.inner(), [0, 1])
    np.testing.assert_array_equal(view.outer(), [0, 1, 2, 2])


def test_ortvalue_shares_memory_with_torch_through_dlpack(rt):
    torch = pytest.importorskip("torch", reason="the [torch] extra")
    value = rt.OrtValue.ortvalue_from_numpy(X.copy())
    assert value.__dlpack_device__() == (1, 0)
    tensor = torch.from_dlpack(value)
    assert tensor.data_ptr() == value.data_ptr() and tensor.shape == (2, 3)
    assert np.asarray(value).ctypes.data == value.data_ptr()
    source = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    back = rt.OrtValue.from_dlpack(source)
    assert (back.device_name(), back.shape(), back.data_ptr()) == ("cpu", [2, 3], source.data_ptr())
    source[0, 0] = 7
    assert back.numpy()[0, 0] == 7
    assert rt.OrtValue.from_dlpack(torch.tensor([True, False])).data_type() == "tensor(bool)"


def _no_cuda():
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


@pytest.mark.skipif(not _no_cuda(), reason="onyx places values on CUDA where torch sees a GPU; onnxruntime's CPU package does not")
def test_cuda_values_without_a_gpu(rt):
    with pytest.raises(RuntimeError, match="CUDA device"):
        rt.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32, "cuda", 0)
    with pytest.raises(RuntimeError):
        rt.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    sess = session(rt, double_model())
    binding = sess.io_binding()
    binding.bind_cpu_input("x", X)
    binding.bind_output("y", "cuda", 0)  # accepted: the output is made on the CPU
    sess.run_with_iobinding(binding)
    assert binding.get_outputs()[0].device_name() == "cpu"
    np.testing.assert_array_equal(binding.copy_outputs_to_cpu()[0], 2 * X)
    with pytest.raises(RuntimeError):  # last: onnxruntime's binding is unusable after this error
        sess.io_binding().bind_input("x", "cuda", 0, np.float32, [2, 3], X.ctypes.data)
