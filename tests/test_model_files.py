"""A session is independent of its model files once created (issue 12, item 2), and a large
file cut short is refused from its field lengths before it is parsed (item 8)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.model import loader

X = np.zeros((2, 3), np.float32)


def bias_model(bias: np.ndarray):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(bias, "bias")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


BIAS = np.arange(6, dtype=np.float32).reshape(2, 3)
OTHER = -BIAS


def run_after_changing_files(model, path, change: str, split_weights: bool) -> subprocess.CompletedProcess:
    """In a fresh process (a SIGBUS must not take the test runner down): create a session on
    ``model``, run ``change`` (Python, with the file to change bound to ``path``), and print the
    session's output."""
    code = textwrap.dedent(f"""
        import pathlib, numpy as np, onyx
        from onyx.model import loader
        loader.SPLIT_WEIGHTS_BYTES = 0 if {split_weights} else loader.SPLIT_WEIGHTS_BYTES
        path = pathlib.Path({str(path)!r})
        session = onyx.InferenceSession({str(model)!r})
        {change}
        print(session.run(None, {{"x": np.zeros((2, 3), np.float32)}})[0].ravel().tolist())
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


CHANGES = {
    "truncated": "path.write_bytes(b'')",
    "rewritten": "path.write_bytes(path.read_bytes().replace(np.arange(6, dtype=np.float32).tobytes(), "
                 "(-np.arange(6, dtype=np.float32)).tobytes()))",
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_large_single_file_model_session_survives_its_file_changing(tmp_path, change):
    path = tmp_path / "model.onnx"
    path.write_bytes(bias_model(BIAS).SerializeToString())
    result = run_after_changing_files(path, path, CHANGES[change], split_weights=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == str(BIAS.ravel().tolist())


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_external_data_session_survives_its_data_file_changing(tmp_path, change):
    import onnx

    onnx.save(bias_model(BIAS), tmp_path / "model.onnx", save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    data = tmp_path / "weights.bin"
    result = run_after_changing_files(tmp_path / "model.onnx", data, CHANGES[change], split_weights=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == str(BIAS.ravel().tolist())


@pytest.fixture
def split_weights(monkeypatch):
    monkeypatch.setattr(loader, "SPLIT_WEIGHTS_BYTES", 0)


def test_large_model_whose_file_name_has_a_colon_loads(split_weights, tmp_path):
    path = tmp_path / "run:3.onnx"
    path.write_bytes(bias_model(BIAS).SerializeToString())
    np.testing.assert_array_equal(onyx.InferenceSession(str(path)).run(None, {"x": X})[0], BIAS)


def test_large_model_whose_weights_state_their_default_location_loads(split_weights, tmp_path):
    """onnxruntime's quantizer writes data_location=DEFAULT after raw_data: the reference into the
    file that replaces raw_data must not be undone by it (the last value of a field wins)."""
    from onnx import TensorProto

    model = bias_model(BIAS)
    model.graph.initializer[0].data_location = TensorProto.DEFAULT
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    np.testing.assert_array_equal(onyx.InferenceSession(str(path)).run(None, {"x": X})[0], BIAS)


def test_large_model_weights_are_owned_arrays(split_weights, tmp_path):
    from onyx.model import load_model

    path = tmp_path / "m.onnx"
    path.write_bytes(bias_model(BIAS).SerializeToString())
    bias = load_model(path).graph.initializers["bias"]
    assert not isinstance(bias, np.memmap) and bias.base is None and not bias.flags.writeable


def test_truncated_large_model_is_refused_from_its_field_lengths_without_parsing(tmp_path, monkeypatch):
    """A 64 MiB sparse file whose graph field declares 2.3 GiB: refused as truncated before the
    parser (or anything reading the whole file) runs."""
    declared = 2_300_000_000
    varint = bytearray()
    value = declared
    while value >= 0x80:
        varint.append(value & 0x7F | 0x80)
        value >>= 7
    varint.append(value)
    ir_version, graph_tag = b"\x08\x08", b"\x3a"  # field 1 (varint 8), field 7 (length-delimited)
    path = tmp_path / "cut.onnx"
    with open(path, "wb") as f:
        f.write(ir_version + graph_tag + bytes(varint))
        f.truncate(64 << 20)
    monkeypatch.setattr(loader, "_parse", lambda *args: pytest.fail("the truncated file was parsed"))
    with pytest.raises(onyx.InvalidProtobuf, match=rf"cut.onnx: the file is truncated: its graph declares {declared} bytes"):
        onyx.InferenceSession(str(path))


def test_truncated_small_model_says_it_is_truncated(tmp_path):
    data = bias_model(BIAS).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[:-7])
    with pytest.raises(onyx.InvalidProtobuf, match="truncated"):
        onyx.InferenceSession(str(path))


def test_file_view_reads_what_the_file_holds():
    import io
    import random

    from onyx.model.wire import FileView

    data = bytes(range(256)) * 64
    view = FileView(io.BytesIO(data), len(data), window=100)
    rng = random.Random(0)
    for _ in range(500):
        start = rng.randrange(len(data) + 10)
        stop = start + rng.randrange(-5, 300)
        assert view[start:stop] == data[start:stop]
        if start < len(data):
            assert view[start] == data[start]
