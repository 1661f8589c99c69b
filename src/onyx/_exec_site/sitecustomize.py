"""Run at start-up by the Python processes of ``onyx exec`` (this folder is put first on their
PYTHONPATH): makes ``import onnxruntime`` give onyx, then runs the sitecustomize this one hides."""

import importlib.machinery
import importlib.util
import os
import sys


def _install() -> None:
    try:
        from onyx.alias import install_as_onnxruntime
    except ImportError as exc:
        sys.stderr.write(f"onyx exec: onyx is not importable by {sys.executable} ({exc}); onnxruntime stays as it is\n")
        return
    install_as_onnxruntime()


def _run_hidden_sitecustomize() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_install()
_run_hidden_sitecustomize()
