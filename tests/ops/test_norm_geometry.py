"""Normalization, Resize and sampling kernels against onnxruntime, on cases the backend suite skips."""

from __future__ import annotations

import numpy as np
import pytest

import onyx
from oracle import assert_matches_onnxruntime, elem_type, present, single_node_model

RNG = np.random.default_rng(0)


def _model(op, inputs, n_outputs=1, opset=19, out_shape=None, **attrs):
    """One-node model; ``inputs`` maps names to arrays (None: absent optional input)."""
    out_type = elem_type(np.int64 if op == "NonMaxSuppression" else next(iter(inputs.values())).dtype)
    model = single_node_model(op, inputs, n_outputs, opset=opset, ir_version=8, strict=True,
                              output_types=[(out_type, out_shape)] * n_outputs, **attrs)
    return model.SerializeToString()


def _compare(op, inputs, n_outputs=1, opset=19, rtol=1e-4, atol=1e-5, out_shape=None, **attrs):
    model = _model(op, inputs, n_outputs, opset, out_shape, **attrs)
    assert_matches_onnxruntime(model, present(inputs), rtol=rtol, atol=atol, exact=False)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("transform", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
@pytest.mark.parametrize("scales", [[1, 1, 1.7, 0.45], [1, 1, 0.5, 3.0]])
def test_resize_scales(mode, transform, scales):
    # whole output lengths: for fractional ones the ONNX reference (and backend data) and onnxruntime
    # disagree on align_corners
    _compare("Resize", {"x": _f32(2, 3, 10, 20), "roi": None, "scales": np.array(scales, np.float32)},
             mode=mode, coordinate_transformation_mode=transform)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
def test_resize_nearest_modes_sizes(nearest_mode):
    _compare("Resize", {"x": _f32(1, 2, 5, 6), "roi": None, "scales": None, "sizes": np.array([1, 2, 11, 4])},
             mode="nearest", nearest_mode=nearest_mode)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_antialias_exclude_outside(mode):
    _compare("Resize", {"x": _f32(1, 1, 16, 13), "roi": None, "scales": np.array([1, 1, 0.3, 0.6], np.float32)},
             mode=mode, antialias=1, exclude_outside=1)


def test_resize_uint8_linear():
    x = RNG.integers(0, 256, (1, 3, 6, 6)).astype(np.uint8)
    _compare("Resize", {"x": x, "roi": None, "scales": np.array([1, 1, 1.5, 2.0], np.float32)},
             mode="linear", atol=1)


def test_resize_tf_crop_and_resize_scales_axes():
    _compare("Resize", {"x": _f32(1, 1, 8, 8), "roi": np.array([0.2, -0.3, 0.9, 1.2], np.float32),
                        "scales": np.array([0.75, 1.5], np.float32)},
             mode="linear", coordinate_transformation_mode="tf_crop_and_resize", axes=[2, 3],
             extrapolation_value=-3.0)


def test_upsample_9_linear():
    _compare("Upsample", {"x": _f32(1, 2, 3, 4), "scales": np.array([1, 1, 2, 3], np.float32)}, opset=9,
             mode="linear")


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_gridsample_2d(mode, padding, align):
    if mode == "cubic" and padding == "border":
        pytest.skip("onnxruntime clamps both coordinates when either is outside; the ONNX reference, per axis")
    grid = RNG.uniform(-1.6, 1.6, (2, 5, 4, 2)).astype(np.float32)
    _compare("GridSample", {"x": _f32(2, 3, 6, 7), "grid": grid}, opset=20, mode=mode, padding_mode=padding,
             align_corners=align)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("transform", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roialign(mode, transform, sampling_ratio):
    rois = np.array([[0, 0, 9, 9], [1.5, 2.2, 30.1, 12.7], [4, 4, 4.5, 20]], np.float32)
    _compare("RoiAlign", {"x": _f32(2, 4, 10, 12), "rois": rois, "batch_indices": np.array([0, 1, 1])},
             opset=16, mode=mode, coordinate_transformation_mode=transform, sampling_ratio=sampling_ratio,
             output_height=3, output_width=4, spatial_scale=0.5)


@pytest.mark.parametrize("center_point_box", [0, 1])
def test_nonmaxsuppression_random(center_point_box):
    corner = RNG.uniform(0, 10, (2, 30, 2))
    boxes = np.concatenate([corner, corner + RNG.uniform(0.5, 4, (2, 30, 2))], axis=-1).astype(np.float32)
    _compare("NonMaxSuppression", {
        "boxes": boxes, "scores": RNG.uniform(0, 1, (2, 3, 30)).astype(np.float32),
        "max": np.array([7]), "iou": np.array([0.3], np.float32), "score": np.array([0.2], np.float32),
    }, opset=11, center_point_box=center_point_box)


def test_layer_normalization_stats_outputs():
    _compare("LayerNormalization", {"x": _f32(2, 3, 4, 5), "scale": _f32(4, 5), "b": _f32(4, 5)}, n_outputs=3,
             opset=17, axis=2)


def test_group_normalization_21():
    _compare("GroupNormalization", {"x": _f32(2, 6, 3, 3), "scale": _f32(6), "bias": _f32(6)}, opset=21,
             num_groups=3, out_shape=[2, 6, 3, 3])


def test_batchnorm_training_outputs():
    x = _f32(4, 3, 5)
    _compare("BatchNormalization", {"x": x, "s": _f32(3), "b": _f32(3), "m": _f32(3),
                                    "v": RNG.uniform(0.5, 1, 3).astype(np.float32)},
             n_outputs=3, opset=15, training_mode=1)


def test_lp_normalization_zero_norm():
    x = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    y = onyx.InferenceSession(_model("LpNormalization", {"x": x}, opset=22, axis=1, p=2)).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, [[0, 0], [0.6, 0.8]], rtol=1e-6)


def test_softmax_cross_entropy_ignore_index_weights():
    labels = np.array([[0, 2, -1], [1, -1, 2]])
    _compare("SoftmaxCrossEntropyLoss", {"s": _f32(2, 3, 3), "l": labels, "w": RNG.uniform(0.1, 1, 3).astype(np.float32)},
             n_outputs=2, opset=13, ignore_index=-1, reduction="mean")
