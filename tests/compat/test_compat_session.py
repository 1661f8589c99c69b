"""InferenceSession's description of a model and its providers."""

import warnings

import numpy as np

from compat_models import double_model, session


def test_node_args(rt):
    sess = session(rt, double_model())
    (x,) = sess.get_inputs()
    assert (x.name, x.type, x.shape) == ("x", "tensor(float)", ["N", 3])
    assert [o.name for o in sess.get_outputs()] == ["y", "z"]


def test_provider_options_of_the_cpu_provider_are_empty(rt):
    sess = rt.InferenceSession(double_model(), providers=[("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.get_provider_options() == {"CPUExecutionProvider": {}}


def test_unavailable_provider_warns_and_falls_back(rt):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sess = rt.InferenceSession(double_model(), providers=["NoSuchExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert caught


def test_module_functions(rt):
    assert "CPUExecutionProvider" in rt.get_available_providers()
    assert "CUDAExecutionProvider" in rt.get_all_providers() and "CPUExecutionProvider" in rt.get_all_providers()
    assert rt.get_device() == "CPU"
    assert isinstance(rt.get_version_string(), str) and rt.get_version_string().count(".") == 2
    assert isinstance(rt.get_build_info(), str)
    assert rt.has_collective_ops() is False
    rt.disable_telemetry_events()
    rt.enable_telemetry_events()
    rt.set_default_logger_severity(3)
    rt.set_default_logger_verbosity(0)


def test_outputs_never_share_memory(rt):
    x = np.ones((2, 3), np.float32)
    y, z = session(rt, double_model()).run(None, {"x": x})
    y[0, 0] = 100
    assert z[0, 0] == 2 and x[0, 0] == 1
