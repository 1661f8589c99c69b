"""The onyx command line, driven through its entry point."""

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from onyx.cli import EXIT_USER_ERROR, main
from models import add_model

DIGITS = Path(__file__).parent.parent / "examples" / "digits"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_run_digits_example_prints_labels_and_probabilities():
    result = invoke("run", DIGITS / "digits.onnx", "--input", f"image={DIGITS / 'sample.npy'}")
    assert result.exit_code == 0, result.output
    assert "label: int64 [5]" in result.output
    assert "[2, 8, 2, 6, 6]" in result.output
    assert "probabilities: float32 [5, 10]" in result.output


def test_run_generates_inputs_with_dims_and_saves_npz(tmp_path):
    model = tmp_path / "add.onnx"
    model.write_bytes(add_model().SerializeToString())
    out = tmp_path / "out.npz"
    result = invoke("run", model, "--dim", "batch=4", "--output", out, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[: result.output.rindex("}") + 1])
    assert payload["outputs"]["y"]["shape"] == [4, 3]
    assert payload["inputs"]["a"]["dtype"] == "float32"
    with np.load(out) as saved:
        assert saved["y"].shape == (4, 3)


def test_missing_model_is_one_line_user_error(tmp_path):
    result = invoke("run", tmp_path / "missing.onnx")
    assert result.exit_code == EXIT_USER_ERROR
    assert result.output.strip().count("\n") == 0
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_bad_input_assignment_is_a_user_error():
    result = invoke("run", DIGITS / "digits.onnx", "--input", "image")
    assert result.exit_code == EXIT_USER_ERROR
    assert "NAME=VALUE" in result.output


def test_wrong_input_dtype_is_reported_with_the_input_name(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((1, 64), np.float64))
    result = invoke("run", DIGITS / "digits.onnx", "--input", f"image={bad}")
    assert result.exit_code == EXIT_USER_ERROR
    assert "input 'image': expected tensor(float), got tensor(double)" in result.output
