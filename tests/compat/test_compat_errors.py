"""A failure raises, in both runtimes, an exception that onnxruntime's class names catch."""

import numpy as np
import pytest
from onnx import helper

from compat_models import F, identity_model, model, reshape_model, session, tensor


def _unknown_op_model() -> bytes:
    return model([helper.make_node("Foo", ["x"], ["y"], domain="my.domain")], [tensor("x", F, [2])], [tensor("y", F, [2])])


LOAD_FAILURES = {
    "missing file": ("NoSuchFile", lambda tmp: str(tmp / "absent.onnx")),
    "not a protobuf": ("InvalidProtobuf", lambda tmp: b"\x08\x07garbage bytes"),
}


@pytest.mark.parametrize("case", list(LOAD_FAILURES))
def test_load_failures_raise_onnxruntimes_class(rt, state, tmp_path, case):
    name, source = LOAD_FAILURES[case]
    with pytest.raises(getattr(state, name)):
        rt.InferenceSession(source(tmp_path), providers=["CPUExecutionProvider"])


def test_unknown_operator_is_refused_at_load(rt, state):
    with pytest.raises((state.InvalidGraph, state.NotImplemented)):
        session(rt, _unknown_op_model())


RUN_FAILURES = {
    "wrong dtype": ({"x": np.ones(3, np.float64), "s": np.array([3])}, "InvalidArgument"),
    "wrong rank": ({"x": np.ones((3, 1), np.float32), "s": np.array([3])}, "InvalidArgument"),
    "unknown input": ({"x": np.ones(3, np.float32), "s": np.array([3]), "q": np.ones(1)}, "InvalidArgument"),
    "node fails": ({"x": np.ones(3, np.float32), "s": np.array([4])}, "Fail"),
}


@pytest.mark.parametrize("case", list(RUN_FAILURES))
def test_run_failures_raise_onnxruntimes_class(rt, state, case):
    feeds, name = RUN_FAILURES[case]
    with pytest.raises(getattr(state, name)):
        session(rt, reshape_model()).run(None, feeds)


def test_unknown_output_name_is_invalid_argument(rt, state):
    with pytest.raises(state.InvalidArgument):
        session(rt, identity_model(shape=[2])).run(["nope"], {"x": np.ones(2, np.float32)})


def test_missing_input_is_a_value_error(rt):
    with pytest.raises(ValueError):
        session(rt, reshape_model()).run(None, {"x": np.ones(3, np.float32)})


def test_exception_classes_are_exceptions_with_onnxruntimes_names(state):
    for name in ["Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException",
                 "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph", "EPFail", "NotFound",
                 "ModelLoadCanceled", "ModelRequiresCompilation", "DeviceReset"]:
        assert issubclass(getattr(state, name), Exception), name


def test_pybind_state_alias_holds_the_same_classes(rt, state):
    import importlib

    alias = importlib.import_module(f"{rt.__name__}.capi._pybind_state")
    assert alias.Fail is state.Fail and alias.InvalidArgument is state.InvalidArgument


def test_capi_submodules_are_attributes_after_importing_the_runtime(rt):
    assert rt.capi._pybind_state.InvalidArgument is rt.capi.onnxruntime_pybind11_state.InvalidArgument
    assert rt.capi.onnxruntime_inference_collection.InferenceSession is rt.InferenceSession
