"""Models exported from PyTorch (committed fixtures) agree with onnxruntime at every optimization level."""

from pathlib import Path

import numpy as np
import onnxruntime
import pytest

import onyx

FIXTURES = Path(__file__).parent / "fixtures"
LEVELS = [level for level in onyx.GraphOptimizationLevel if level != onyx.GraphOptimizationLevel.ORT_ENABLE_LAYOUT]
SHAPES = {
    "torch_conv_bn_relu": [(1, 3, 16, 16), (3, 3, 16, 16)],  # the export fixed the image size
    "torch_lstm": [(1, 5, 8), (3, 11, 8)],
    "torch_attention": [(2, 6, 32)],  # the export traced batch and sequence into Reshape shapes
}


@pytest.mark.parametrize("level", LEVELS, ids=lambda level: level.name)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_agrees_with_onnxruntime(name, level):
    path = str(FIXTURES / f"{name}.onnx")
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    ours = onyx.InferenceSession(path, options)
    theirs = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for shape in SHAPES[name]:
        x = rng.standard_normal(shape).astype(np.float32)
        (expected,) = theirs.run(None, {"x": x})
        (got,) = ours.run(None, {"x": x})
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
