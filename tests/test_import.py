"""Start-up: ``import onyx`` and ``onyx -h`` import neither onnx nor ml_dtypes nor NumPy nor Numba (which
command-line applications would pay on every start); InferenceSession imports them on first use."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("onnx", "ml_dtypes", "numpy", "numba")
SRC = str(Path(__file__).parents[1] / "src")


def modules_loaded_by(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})), file=sys.stderr)"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return set(done.stderr.split()) & set(HEAVY)


def test_import_onyx_imports_no_heavy_dependency():
    assert modules_loaded_by("import onyx; onyx.SessionOptions()") == set()


def test_onyx_h_prints_help_without_heavy_imports():
    code = ("from onyx.cli import main\nsys.argv = ['onyx', '-h']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0")
    assert modules_loaded_by(code) == set()


def test_the_session_classes_load_on_first_use():
    assert modules_loaded_by("from onyx import InferenceSession, NodeArg, ModelMetadata") == {"onnx", "numpy", "ml_dtypes"}
    import onyx

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        onyx.NoSuchThing  # noqa: B018
