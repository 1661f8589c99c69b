"""Values kept on a device: OrtValues holding torch tensors, IOBinding feeding and taking them
without copies where a provider of the session runs on their device, placed plans.

This machine has no GPU, so the device is played by torch's CPU: a provider whose values are
torch tensors (TorchHeldProvider below) and ``onyx.devices.torch_device`` answering "cuda" with
torch's CPU device. What is tested is the path a CUDA value takes; tests marked ``cuda`` run the
same on a real GPU (tests/test_cuda_values.py)."""

import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx as ort
from onyx import devices
from onyx.errors import DeviceUnavailable
from onyx.providers import CPU, ExecutionProvider, register_provider, unregister_provider
from onyx.runtime.placement import placed_plan
from toy_provider import TOY, OnToyDevice, ToyProvider

torch = pytest.importorskip("torch", reason="device values are torch tensors: the [torch] extra")

HELD = "TorchHeldExecutionProvider"
X = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], np.float32)


class TorchHeldProvider(ExecutionProvider):
    """Relu and Add on torch tensors (on torch's CPU), counting the copies to and from it."""

    name = HELD
    device = "torch-held"
    copies = {"to_device": 0, "to_host": 0}
    _ops = {"Relu": torch.relu, "Add": torch.add}

    def capability(self, graph, opset):
        return [n for n in graph.nodes if n.domain == "" and n.op_type in self._ops]

    def compile(self, partition, graph):
        nodes = [(self._ops[n.op_type], n.inputs, n.outputs[0]) for n in partition.nodes]

        def run(*args):
            assert all(isinstance(a, torch.Tensor) for a in args), "a host value reached the device without a copy"
            env = dict(zip(partition.inputs, args))
            for op, names, out in nodes:
                env[out] = op(*(env[n] for n in names))
            return tuple(env[n] for n in partition.outputs)

        return run

    def to_device(self, value):
        TorchHeldProvider.copies["to_device"] += 1
        return torch.from_numpy(np.array(value))

    def to_host(self, value):
        TorchHeldProvider.copies["to_host"] += 1
        return value.numpy()


@pytest.fixture
def held(monkeypatch):
    """The held provider registered, and "cuda" placed on torch's CPU device."""
    register_provider(TorchHeldProvider)
    monkeypatch.setattr(devices, "torch_device", lambda device_type, device_id=0: torch.device("cpu"))
    yield
    unregister_provider(HELD)


def _counts():
    counts = dict(TorchHeldProvider.copies)
    TorchHeldProvider.copies.update(to_device=0, to_host=0)
    return counts


def _vec(name, shape=(2, 3)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def relu_add_model(cpu_reader=False, op="Relu"):
    """y = Relu(x) + x (or ``op``(x) + x) on the device; with ``cpu_reader``, also z = x * x on the CPU."""
    nodes = [helper.make_node(op, ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"])]
    outputs = [_vec("y")]
    if cpu_reader:
        nodes.append(helper.make_node("Mul", ["x", "x"], ["z"]))
        outputs.append(_vec("z"))
    graph = helper.make_graph(nodes, "g", [_vec("x")], outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _session(model, provider=HELD):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ort.InferenceSession(model, providers=[provider, CPU])


def _run_bound(session, x):
    """Run with ``x`` bound as input x and output y bound on the device: (the binding, y)."""
    binding = session.io_binding()
    binding.bind_ortvalue_input("x", x)
    binding.bind_output("y", "cuda", 0)
    session.run_with_iobinding(binding)
    (y,) = binding.get_outputs()
    assert isinstance(y._value, torch.Tensor)
    return binding, y


def expected(x):
    return np.maximum(x, 0) + x


# -- placed plans ---------------------------------------------------------------------


@pytest.fixture
def toy():
    register_provider(ToyProvider)
    ToyProvider.copies.update(to_device=0, to_host=0)
    yield
    unregister_provider(TOY)


def test_placed_plan_takes_and_gives_device_values_without_copy_steps(toy):
    plan = _session(relu_add_model(), TOY)._plan
    assert [s.node.op_type for s in plan.steps] == ["MemcpyFromHost", "Partition", "MemcpyToHost"]
    placed = placed_plan(plan, {"x": "toy"}, {"y": "toy"})
    assert [s.node.op_type for s in placed.steps] == ["Partition"]
    (y,) = placed.run([OnToyDevice(X)])
    assert type(y) is OnToyDevice
    np.testing.assert_array_equal(y.data, expected(X))
    assert ToyProvider.copies == {"to_device": 0, "to_host": 0}
    assert [s.node.op_type for s in plan.steps] == ["MemcpyFromHost", "Partition", "MemcpyToHost"]  # unchanged


def test_placed_plan_copies_a_device_feed_to_the_host_once_for_host_readers(toy):
    session = _session(relu_add_model(cpu_reader=True), TOY)
    placed = placed_plan(session._plan, {"x": "toy"}, {"y": "toy"})
    assert [s.node.op_type for s in placed.steps].count("MemcpyToHost") == 1
    y, z = placed.run([OnToyDevice(X)])
    np.testing.assert_array_equal(y.data, expected(X))
    np.testing.assert_array_equal(z, X * X)
    assert ToyProvider.copies == {"to_device": 0, "to_host": 1}


def test_placed_plan_leaves_host_outputs_and_unplaced_inputs_as_they_were(toy):
    session = _session(relu_add_model(cpu_reader=True), TOY)
    placed = placed_plan(session._plan, {}, {"z": "toy"})  # z is made on the CPU: stays a host output
    y, z = placed.run([X])
    np.testing.assert_array_equal(y, expected(X))
    np.testing.assert_array_equal(z, X * X)


# -- OrtValues on a device ----------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("make", [
    lambda: ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0),
    lambda: ort.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32, "cuda", 0),
    lambda: ort.InferenceSession(relu_add_model(), providers=[CPU]).io_binding().bind_input(
        "x", "cuda", 0, np.float32, [2, 3], X.ctypes.data),
])
def test_cuda_values_are_refused_without_a_gpu(make):
    with pytest.raises(DeviceUnavailable, match="CUDA device") as caught:
        make()
    assert isinstance(caught.value, RuntimeError)  # onnxruntime's CPU package raises RuntimeError


def test_an_ortvalue_on_the_device_holds_a_torch_tensor(held):
    value = ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    assert isinstance(value._value, torch.Tensor) and value.device_name() == "cuda"
    assert (value.shape(), value.data_type(), value.element_type(), value.tensor_size_in_bytes()) == ([2, 3], "tensor(float)", 1, 24)
    np.testing.assert_array_equal(value.numpy(), X)
    assert torch.from_dlpack(value).data_ptr() == value.data_ptr()  # shared through DLPack
    value.update_inplace(np.ones((2, 3), np.float32))
    assert value._value.sum().item() == 6
    zeros = ort.OrtValue.ortvalue_from_shape_and_type([2, 2], TensorProto.BFLOAT16, "cuda", 0)
    assert zeros._value.dtype == torch.bfloat16 and zeros.data_type() == "tensor(bfloat16)"
    assert zeros.numpy().dtype.name == "bfloat16"


def test_from_dlpack_shares_a_bfloat16_cpu_tensor_numpy_cannot_import():
    tensor = torch.arange(4, dtype=torch.bfloat16)
    value = ort.OrtValue.from_dlpack(tensor)
    assert (value.device_name(), value.data_type(), value.data_ptr()) == ("cpu", "tensor(bfloat16)", tensor.data_ptr())
    assert value.numpy().astype(np.float32).tolist() == [0, 1, 2, 3]


def test_iobinding_keeps_device_values_on_the_device_between_runs(held):
    session = _session(relu_add_model())
    binding, y = _run_bound(session, ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0))
    np.testing.assert_array_equal(y.numpy(), expected(X))
    _counts()  # the first run also asked the provider where its values live
    binding.bind_ortvalue_input("x", y)  # the output, fed back where it is
    session.run_with_iobinding(binding)
    np.testing.assert_array_equal(binding.copy_outputs_to_cpu()[0], expected(expected(X)))
    assert _counts() == {"to_device": 0, "to_host": 0}


def test_iobinding_writes_into_a_bound_device_value_in_place(held):
    session = _session(relu_add_model())
    binding = session.io_binding()
    binding.bind_ortvalue_input("x", ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0))
    out = ort.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32, "cuda", 0)
    address = out.data_ptr()
    binding.bind_ortvalue_output("y", out)
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    assert binding.get_outputs()[0] is out and out.data_ptr() == address
    np.testing.assert_array_equal(out.numpy(), expected(X))


def test_device_feeds_read_by_host_kernels_are_copied_for_them(held):
    session = _session(relu_add_model(cpu_reader=True))
    x = ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    session.run(None, {"x": x})
    _counts()
    y, z = session.run(None, {"x": x})  # plain run: host results
    assert type(y) is np.ndarray and type(z) is np.ndarray
    np.testing.assert_array_equal(y, expected(X))
    np.testing.assert_array_equal(z, X * X)
    assert _counts() == {"to_device": 0, "to_host": 2}  # x for Mul, y back to the host
    np.testing.assert_array_equal(x.numpy(), X)  # the feed is not written into


def test_device_values_reach_a_session_without_a_device_provider_through_the_host(held):
    session = ort.InferenceSession(relu_add_model(), providers=[CPU])
    binding, y = _run_bound(session, ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0))
    np.testing.assert_array_equal(y.numpy(), expected(X))


def test_device_feeds_are_checked_like_host_feeds(held):
    session = _session(relu_add_model())
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument, match="expected tensor\\(float\\)"):
        session.run(None, {"x": ort.OrtValue.ortvalue_from_numpy(X.astype(np.float64), "cuda", 0)})
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument, match="dimension 1 must be 3"):
        session.run(None, {"x": ort.OrtValue.ortvalue_from_numpy(np.zeros((2, 4), np.float32), "cuda", 0)})


def test_an_identity_output_bound_on_the_device_is_not_the_feed(held):
    model = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [_vec("x")], [_vec("y")]),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    session = _session(model.SerializeToString())
    x = ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0)
    _, y = _run_bound(session, x)
    assert y.data_ptr() != x.data_ptr()
    np.testing.assert_array_equal(y.numpy(), X)


def test_the_torch_provider_takes_and_gives_bound_values_without_copies(held):
    session = _session(relu_add_model(op="Abs"), "TorchExecutionProvider")
    assert [p.provider for p in session.get_provider_assignment()] == ["TorchExecutionProvider"]
    binding, y = _run_bound(session, ort.OrtValue.ortvalue_from_numpy(X, "cuda", 0))
    np.testing.assert_array_equal(y.numpy(), np.abs(X) + X)
    (placed,) = session._device_plans._plans.values()
    assert [s.node.op_type for s in placed.steps] == ["Partition"]
