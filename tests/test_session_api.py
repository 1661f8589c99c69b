"""InferenceSession speaks onnxruntime's Python API."""

import numpy as np
import pytest
from onnx import helper

import onyx
import onyx as ort
from models import add_bias_model, add_model


def test_run_returns_all_outputs_when_names_are_none():
    sess = ort.InferenceSession(add_model().SerializeToString())
    a = np.ones((2, 3), np.float32)
    (y,) = sess.run(None, {"a": a, "b": a})
    np.testing.assert_array_equal(y, 2 * a)
    assert y.dtype == np.float32


def test_run_selects_outputs_by_name_and_rejects_unknown_ones():
    sess = ort.InferenceSession(add_model())
    a = np.ones((1, 3), np.float32)
    assert sess.run(["y"], {"a": a, "b": a})[0].shape == (1, 3)
    with pytest.raises(onyx.InvalidArgument, match="unknown output name 'z'"):
        sess.run(["z"], {"a": a, "b": a})


def test_loads_from_path_bytes_and_proto(tmp_path):
    model = add_model()
    path = tmp_path / "add.onnx"
    path.write_bytes(model.SerializeToString())
    a = np.arange(3, dtype=np.float32).reshape(1, 3)
    for source in (str(path), path, model.SerializeToString(), model):
        assert ort.InferenceSession(source).run(None, {"a": a, "b": a})[0].tolist() == [[0, 2, 4]]


def test_node_args_describe_inputs_and_outputs():
    sess = ort.InferenceSession(add_model(shape_a=("batch", 3)))
    (a, b) = sess.get_inputs()
    assert (a.name, a.type, a.shape) == ("a", "tensor(float)", ["batch", 3])
    (y,) = sess.get_outputs()
    assert (y.name, y.type) == ("y", "tensor(float)")


def test_overridable_initializers_are_listed_and_can_be_fed():
    bias = np.full((2, 3), 10, np.float32)
    sess = ort.InferenceSession(add_bias_model(bias, bias_is_input=True))
    assert [i.name for i in sess.get_inputs()] == ["x"]
    (init,) = sess.get_overridable_initializers()
    assert (init.name, init.type, init.shape) == ("bias", "tensor(float)", [2, 3])
    x = np.zeros((2, 3), np.float32)
    assert sess.run(None, {"x": x})[0][0, 0] == 10
    assert sess.run(None, {"x": x, "bias": np.ones((2, 3), np.float32)})[0][0, 0] == 1


def test_modelmeta_reports_producer_names_and_custom_metadata():
    model = add_model()
    model.producer_name = "unit-test"
    model.domain = "ai.onyx.test"
    model.model_version = 7
    model.doc_string = "adds"
    helper.set_model_props(model, {"author": "onyx"})
    meta = ort.InferenceSession(model).get_modelmeta()
    assert (meta.producer_name, meta.graph_name, meta.domain, meta.description, meta.version) == (
        "unit-test", "add_graph", "ai.onyx.test", "adds", 7)
    assert meta.custom_metadata_map == {"author": "onyx"}


def test_onnxruntime_style_application_code_runs_unchanged():
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.load_model_format", "ONNX")
    providers = [p for p in ["CUDAExecutionProvider", "CPUExecutionProvider"] if p in ort.get_available_providers()]
    sess = ort.InferenceSession(add_model().SerializeToString(), sess_options=so, providers=providers)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.get_session_options() is so
    assert so.get_session_config_entry("session.load_model_format") == "ONNX"
    assert ort.get_device() in ("CPU", "GPU")  # GPU where the Torch provider sees CUDA (tests/test_backend_api.py)
    assert isinstance(ort.__version__, str)
    feeds = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32) for i in sess.get_inputs()}
    assert sess.run([o.name for o in sess.get_outputs()], feeds, ort.RunOptions())[0].shape == (1, 3)


def test_unavailable_provider_warns_and_falls_back_to_cpu():
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
        sess = ort.InferenceSession(add_model(), providers=["CUDAExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]


def test_add_initializer_replaces_a_weight():
    so = ort.SessionOptions()
    so.add_initializer("bias", np.full((2, 3), 5, np.float32))
    sess = ort.InferenceSession(add_bias_model(np.zeros((2, 3))), sess_options=so)
    assert sess.run(None, {"x": np.zeros((2, 3), np.float32)})[0][0, 0] == 5


def test_free_dimension_override_fixes_a_symbolic_dim():
    so = ort.SessionOptions()
    so.add_free_dimension_override_by_name("batch", 2)
    sess = ort.InferenceSession(add_model(), sess_options=so)
    assert sess.get_inputs()[0].shape == [2, 3]
    with pytest.raises(onyx.InvalidArgument, match="dimension 0 must be 2"):
        sess.run(None, {"a": np.zeros((1, 3), np.float32), "b": np.zeros((1, 3), np.float32)})


def test_ir3_initializers_listed_as_inputs_are_constants_not_overridable():
    model = add_bias_model(np.full((2, 3), 10, np.float32), bias_is_input=True)
    model.ir_version = 3
    sess = ort.InferenceSession(model)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    assert sess.get_overridable_initializers() == []
    assert sess.run(None, {"x": np.zeros((2, 3), np.float32)})[0][0, 0] == 10


def test_intra_op_num_threads_limits_blas_threads_during_runs():
    from threadpoolctl import threadpool_info

    seen = []
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(add_model(), sess_options=so)
    sess._plan.steps[0].fn = lambda a, b: seen.append([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]) or a + b
    a = np.ones((1, 3), np.float32)
    sess.run(None, {"a": a, "b": a})
    assert seen and all(n == 1 for n in seen[0])


def test_process_wide_onnxruntime_calls_exist():
    import logging

    ort.set_default_logger_severity(3)
    assert logging.getLogger("onyx").level == logging.ERROR
    ort.set_default_logger_verbosity(0)
    assert ort.__version__ in ort.get_build_info()
    with pytest.raises(onyx.InvalidArgument):
        ort.set_default_logger_severity(9)
