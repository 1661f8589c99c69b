"""onyx's counterpart of the ``onnxruntime.capi`` package: the names code imports from
onnxruntime's native layer (``onnxruntime_pybind11_state``, its alias ``_pybind_state``) and
its Python classes (``onnxruntime_inference_collection``). With ``onyx.install_as_onnxruntime()``
these are what ``import onnxruntime.capi...`` gives."""

from onyx.capi.onnxruntime_pybind11_state import *  # noqa: F403
from onyx.capi import _pybind_state, onnxruntime_inference_collection  # noqa: E402,F401 - reachable as attributes, as in onnxruntime
