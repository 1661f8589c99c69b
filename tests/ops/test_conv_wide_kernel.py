"""Convolutions whose kernel has more positions than their output (an STFT written as a Conv,
as Silero VAD does): read as one strided view, not one view per kernel position."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onyx.ops.conv_algorithms import flat_windows
from oracle import assert_outputs_match, run_both


def _stft_model(channels: int, taps: int, stride: int, length: int) -> bytes:
    weights = np.random.default_rng(0).standard_normal((channels, 1, taps)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], strides=[stride])], "stft",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, length])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weights, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_kernel_longer_than_the_output_reads_one_strided_view():
    assert not flat_windows((256,), (4,), (128,), (1,), 258, 1)
    assert flat_windows((3, 3), (56, 56), (1, 1), (1, 1), 8, 8)  # depthwise-like layers keep their views


def test_an_stft_as_a_conv_matches_onnxruntime():
    for channels, taps, stride, length in ((258, 256, 128, 640), (130, 128, 64, 320)):
        x = np.random.default_rng(1).standard_normal((1, 1, length)).astype(np.float32)
        ours, theirs = run_both(_stft_model(channels, taps, stride, length), {"x": x})
        assert_outputs_match(ours, theirs, rtol=1e-4, atol=1e-4)
