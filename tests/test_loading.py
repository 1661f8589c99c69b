"""Loading errors, external data (and its refusal outside the model's folder), plan-time errors."""

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onyx
from models import add_bias_model, add_model

BIAS = np.arange(6, dtype=np.float32).reshape(2, 3)


def save_with_external_bias(folder, location="weights.bin", offset=0, data=None):
    """Save add_bias_model with its bias stored in an external file at ``location``."""
    model = add_bias_model(BIAS)
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in [("location", location), ("offset", str(offset)), ("length", str(BIAS.nbytes))]:
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    if data is not None:
        target = folder / location
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def run_bias(path):
    return onyx.InferenceSession(str(path)).run(None, {"x": np.zeros((2, 3), np.float32)})[0]


def test_external_data_is_read_from_the_models_folder(tmp_path):
    path = save_with_external_bias(tmp_path, "data/weights.bin", offset=16, data=b"\0" * 16 + BIAS.tobytes())
    np.testing.assert_array_equal(run_bias(path), BIAS)


def test_external_data_written_by_onnx_save_loads(tmp_path):
    model = add_bias_model(BIAS)
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.data", size_threshold=0)
    np.testing.assert_array_equal(run_bias(tmp_path / "m.onnx"), BIAS)


@pytest.mark.parametrize("location", ["/etc/passwd", "../secret.bin", "data/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(BIAS.tobytes())
    path = save_with_external_bias(folder, location)
    with pytest.raises(onyx.UnsafeExternalData, match="model's folder"):
        run_bias(path)


def test_external_data_symlink_escaping_the_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(BIAS.tobytes())
    os.symlink(tmp_path / "secret.bin", folder / "weights.bin")
    path = save_with_external_bias(folder, "weights.bin")
    with pytest.raises(onyx.UnsafeExternalData, match="outside the model's folder"):
        run_bias(path)


def test_missing_external_file(tmp_path):
    path = save_with_external_bias(tmp_path, "weights.bin")
    with pytest.raises(onyx.NoSuchFile, match="weights.bin"):
        run_bias(path)


def test_truncated_external_file(tmp_path):
    path = save_with_external_bias(tmp_path, "weights.bin", data=BIAS.tobytes()[:10])
    with pytest.raises(onyx.InvalidGraph, match="truncated"):
        run_bias(path)


def test_external_data_from_bytes_needs_a_path(tmp_path):
    path = save_with_external_bias(tmp_path, "weights.bin", data=BIAS.tobytes())
    with pytest.raises(onyx.InvalidGraph, match="load it from its file"):
        onyx.InferenceSession(path.read_bytes())


def test_missing_model_file(tmp_path):
    with pytest.raises(onyx.NoSuchFile, match="nothere.onnx"):
        onyx.InferenceSession(str(tmp_path / "nothere.onnx"))


def test_truncated_model_file_names_the_file(tmp_path):
    data = add_bias_model(BIAS).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(onyx.ModelLoadError, match="cut.onnx"):
        onyx.InferenceSession(str(path))


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe not a model", b"\x08" * 3])
def test_corrupt_bytes_raise_a_load_error(payload):
    with pytest.raises(onyx.ModelLoadError):
        onyx.InferenceSession(payload)


def test_every_truncation_of_a_model_gives_an_onyx_error_or_a_session():
    data = add_bias_model(BIAS).SerializeToString()
    refused = 0
    for cut in range(0, len(data)):
        try:
            onyx.InferenceSession(data[:cut])
        except onyx.OnyxError:
            refused += 1
    assert refused > len(data) // 2


def test_unsupported_operator_fails_at_creation_naming_op_domain_opset_node():
    graph = helper.make_graph(
        [helper.make_node("FancyOp", ["x"], ["y"], name="fancy1", domain="example.custom")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 3)])
    with pytest.raises(onyx.UnsupportedOperator, match=r"example\.custom::FancyOp at opset 3 .*fancy1"):
        onyx.InferenceSession(model)


def test_dangling_input_is_an_invalid_graph():
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(onyx.InvalidGraph, match="'ghost'"):
        onyx.InferenceSession(helper.make_model(graph))


def test_cycle_is_an_invalid_graph():
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Add", ["x", "a"], ["b"], name="n2")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(onyx.InvalidGraph, match="cycle"):
        onyx.InferenceSession(helper.make_model(graph))


def test_kernel_failure_names_the_node():
    model = add_model(shape_a=[2, 3], shape_b=["n", "m"])
    sess = onyx.InferenceSession(model)
    with pytest.raises(onyx.KernelError, match=r'node "add" \(Add\) failed'):
        sess.run(None, {"a": np.zeros((2, 3), np.float32), "b": np.zeros((4, 5), np.float32)})


def test_model_local_function_runs():
    fn = helper.make_function(
        "local.fns", "AddTwice", ["p", "q"], ["r"],
        [helper.make_node("Add", ["p", "q"], ["t"]), helper.make_node("Add", ["t", "q"], ["r"])],
        [helper.make_opsetid("", 17)],
    )
    graph = helper.make_graph(
        [helper.make_node("AddTwice", ["x", "y"], ["z"], domain="local.fns", name="call")],
        "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in "xy"],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local.fns", 1)])
    out = onyx.InferenceSession(model).run(None, {"x": np.ones(2, np.float32), "y": np.full(2, 2, np.float32)})[0]
    assert out.tolist() == [5, 5]


def test_corrupted_bytes_of_a_real_model_only_ever_raise_onyx_errors():
    """Random byte flips in the example model: loading, planning and running either work or
    raise an OnyxError (never TypeError, IndexError... from deep inside)."""
    from pathlib import Path

    digits = Path(__file__).parent.parent / "examples" / "digits"
    data = (digits / "digits.onnx").read_bytes()
    x = np.load(digits / "sample.npy")
    rng = np.random.default_rng(0)
    outcomes = {"ran": 0, "refused": 0}
    for _ in range(400):
        corrupt = bytearray(data)
        for pos in rng.integers(0, len(data), size=rng.integers(1, 6)):
            corrupt[pos] = rng.integers(0, 256)
        try:
            session = onyx.InferenceSession(bytes(corrupt))
            session.run(None, {i.name: x for i in session.get_inputs()})
            outcomes["ran"] += 1
        except onyx.OnyxError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 400


@pytest.fixture
def split_weights(monkeypatch):
    """Take the large-file path (weights split off before parsing) for every model file."""
    from onyx.model import loader

    monkeypatch.setattr(loader, "SPLIT_WEIGHTS_BYTES", 0)


def test_large_file_weights_are_read_from_the_file_and_give_the_same_results(split_weights, tmp_path):
    from pathlib import Path

    from onyx.model import load_model

    digits = Path(__file__).parent.parent / "examples" / "digits"
    model = load_model(digits / "digits.onnx")
    for name, value in model.graph.initializers.items():
        assert not value.flags.writeable, name
    x = np.load(digits / "sample.npy")
    got = onyx.InferenceSession(str(digits / "digits.onnx")).run(None, {"image": x})
    plain = onyx.InferenceSession((digits / "digits.onnx").read_bytes()).run(None, {"image": x})
    for a, b in zip(got, plain):
        np.testing.assert_array_equal(a, b)


def test_large_file_path_keeps_existing_external_data_and_its_checks(split_weights, tmp_path):
    path = save_with_external_bias(tmp_path, "weights.bin", data=BIAS.tobytes())
    np.testing.assert_array_equal(run_bias(path), BIAS)
    folder = tmp_path / "hostile"
    folder.mkdir()
    with pytest.raises(onyx.UnsafeExternalData):
        run_bias(save_with_external_bias(folder, "../weights.bin"))


def test_large_file_path_refuses_truncated_files(split_weights, tmp_path):
    data = add_bias_model(BIAS).SerializeToString()
    path = tmp_path / "cut.onnx"
    refused = 0
    for cut in range(1, len(data)):
        path.write_bytes(data[:cut])
        try:
            onyx.InferenceSession(str(path))
        except onyx.OnyxError:
            refused += 1
    assert refused > len(data) // 2


def test_misaligned_external_tensors_are_copied_to_aligned_memory(tmp_path):
    path = save_with_external_bias(tmp_path, "weights.bin", offset=3, data=b"\0" * 3 + BIAS.tobytes())
    from onyx.model import load_model

    bias = load_model(path).graph.initializers["bias"]
    assert bias.flags.aligned and not bias.flags.writeable
    np.testing.assert_array_equal(bias, BIAS)


def test_recursive_model_local_function_is_an_invalid_graph():
    fn = helper.make_function(
        "local.fns", "Forever", ["p"], ["r"],
        [helper.make_node("Forever", ["p"], ["r"], domain="local.fns")],
        [helper.make_opsetid("", 17), helper.make_opsetid("local.fns", 1)],
    )
    graph = helper.make_graph(
        [helper.make_node("Forever", ["x"], ["y"], domain="local.fns", name="call")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local.fns", 1)])
    with pytest.raises(onyx.InvalidGraph, match="calls itself"):
        onyx.InferenceSession(model)
