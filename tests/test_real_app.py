"""A real onnxruntime application from PyPI (magika, which ships its model in its wheel) runs
unchanged under `onyx exec` and gives onnxruntime's answers. bench/apps.py runs more of them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

magika = pytest.importorskip("magika")

REPO = Path(__file__).resolve().parent.parent
FILES = [REPO / "README.md", REPO / "pyproject.toml", REPO / "src/onyx/session.py", REPO / "examples/digits/digits.onnx"]
IDENTIFY = (
    "import json, sys, onnxruntime, magika\n"
    "m = magika.Magika()\n"
    "print(json.dumps([hasattr(onnxruntime, 'onyx_version')] + "
    "[[r.output.label, r.score] for r in (m.identify_path(p) for p in sys.argv[1:])]))\n"
)


def test_magika_identifies_files_on_onyx_as_on_onnxruntime():
    expected = [[r.output.label, r.score] for r in (magika.Magika().identify_path(p) for p in FILES)]
    result = subprocess.run([sys.executable, "-m", "onyx.exec", sys.executable, "-c", IDENTIFY, *map(str, FILES)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    on_onyx, *answers = json.loads(result.stdout.splitlines()[-1])
    assert on_onyx
    assert [label for label, _ in answers] == [label for label, _ in expected]
    for (_, score), (_, want) in zip(answers, expected):
        assert score == pytest.approx(want, abs=1e-5)
