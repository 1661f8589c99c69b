"""onnxruntime.capi._pybind_state as onyx provides it (the same names as onnxruntime_pybind11_state)."""

from onyx.capi.onnxruntime_pybind11_state import *  # noqa: F403
from onyx.capi.onnxruntime_pybind11_state import __all__  # noqa: F401
