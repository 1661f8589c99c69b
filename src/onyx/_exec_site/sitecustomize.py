"""Run at start-up by the Python processes of ``onyx exec`` (this folder is put first on their
PYTHONPATH): makes ``import onnxruntime`` give onyx, then runs the sitecustomize this one hides.

onyx itself is imported only when the process imports onnxruntime: onyx.alias (standard
library only) is loaded here from the onyx this interpreter would import, without the package.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _install() -> None:
    onyx = importlib.util.find_spec("onyx")
    if onyx is None or onyx.origin is None:
        sys.stderr.write(f"onyx exec: onyx is not importable by {sys.executable}; onnxruntime stays as it is\n")
        return
    spec = importlib.util.spec_from_file_location("onyx.alias", os.path.join(os.path.dirname(onyx.origin), "alias.py"))
    alias = importlib.util.module_from_spec(spec)
    sys.modules["onyx.alias"] = alias  # `import onyx` later finds it there
    spec.loader.exec_module(alias)
    alias.install_as_onnxruntime()


def _run_hidden_sitecustomize() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_install()
_run_hidden_sitecustomize()
