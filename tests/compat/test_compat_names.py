"""Every public name of onnxruntime's Python API exists in onyx, or is listed in differences.py."""

import importlib

import onnxruntime
import pytest

import onyx
from differences import METHODS, NATIVE, TOP_LEVEL

STATE = importlib.import_module("onnxruntime.capi.onnxruntime_pybind11_state")
_MODULE_NAMES = {"capi", "contextlib"}


def _public(obj) -> list[str]:
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def _ort_module_names() -> list[str]:
    return [n for n in _public(onnxruntime) if n not in _MODULE_NAMES]


@pytest.mark.parametrize("name", _ort_module_names())
def test_onnxruntime_module_name_exists_in_onyx(name):
    if name in TOP_LEVEL:
        assert not hasattr(onyx, name), f"{name} is listed as missing but onyx has it: update differences.py"
        return
    assert hasattr(onyx, name), f"onyx lacks onnxruntime.{name}"


@pytest.mark.parametrize("name", _public(STATE))
def test_native_module_name_exists_in_onyx_capi(name):
    ours = importlib.import_module("onyx.capi.onnxruntime_pybind11_state")
    if name in TOP_LEVEL or name in NATIVE:
        assert not hasattr(ours, name), f"{name} is listed as missing but onyx's native-module stand-in has it"
        return
    assert hasattr(ours, name), f"onyx.capi.onnxruntime_pybind11_state lacks {name}"


@pytest.mark.parametrize("module", ["onnxruntime.capi._pybind_state", "onnxruntime.capi.onnxruntime_inference_collection"])
def test_capi_submodules_import_under_both_names(module):
    ours = importlib.import_module(module.replace("onnxruntime", "onyx", 1))
    theirs = importlib.import_module(module)
    for name in getattr(ours, "__all__", []):
        assert hasattr(theirs, name), f"{module}.{name} is not onnxruntime's"


_CLASSES = ["InferenceSession", "SessionOptions", "RunOptions", "OrtValue", "IOBinding", "SparseTensor", "OrtDevice",
            "NodeArg", "ModelMetadata"]


def _class_members():
    for cls in _CLASSES:
        for name in _public(getattr(onnxruntime, cls)):
            yield cls, name


@pytest.mark.parametrize("cls,name", list(_class_members()))
def test_class_member_exists_in_onyx(cls, name):
    missing = METHODS.get(cls, {})
    if cls in ("NodeArg", "ModelMetadata", "SessionOptions", "RunOptions"):
        holder = getattr(onyx, cls)
        if cls == "NodeArg":
            holder = onyx.InferenceSession(_tiny()).get_inputs()[0]
        elif cls == "ModelMetadata":
            holder = onyx.InferenceSession(_tiny()).get_modelmeta()
        else:
            holder = holder()
    else:
        holder = getattr(onyx, cls)
    if name in missing:
        assert not hasattr(holder, name), f"{cls}.{name} is listed as missing but onyx has it"
        return
    assert hasattr(holder, name), f"onyx's {cls} lacks {name}"


def _tiny() -> bytes:
    from compat_models import identity_model

    return identity_model(shape=[1])


def test_every_listed_difference_has_a_reason():
    for name, reason in [*TOP_LEVEL.items(), *NATIVE.items(), *(i for m in METHODS.values() for i in m.items())]:
        assert len(reason) > 15, name
