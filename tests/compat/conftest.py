"""The compatibility suite: the same code run against onnxruntime and onyx, side by side.

Each test takes ``rt`` (the runtime module, ``onnxruntime`` or ``onyx``) and ``state`` (its
``capi.onnxruntime_pybind11_state``) and asserts what onnxruntime's documentation promises, so a
behaviour that drifts shows as one runtime's failure. Known differences are in differences.py.
"""

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

RUNTIMES = ["onnxruntime", "onyx"]


@pytest.fixture(params=RUNTIMES)
def rt(request):
    return importlib.import_module(request.param)


@pytest.fixture
def state(rt):
    return importlib.import_module(f"{rt.__name__}.capi.onnxruntime_pybind11_state")
