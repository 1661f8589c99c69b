"""Tensor-manipulation kernels (shape.py, indexing.py, pad.py) beyond the backend suite:
old opset forms, reductions with duplicates, batch_dims, bad indices, and inputs left untouched."""

import numpy as np
import pytest
from onnx import helper

from onyx.errors import KernelError
from oracle import (
    assert_outputs_match,
    present,
    readonly_feeds,
    run_onnxruntime,
    run_onyx_leaving_inputs,
    single_node_model,
)


def _model(op, inputs, n_outputs=1, opset=18, **attrs):
    """A one-node model; ``inputs`` maps names to arrays (None leaves an optional input out)."""
    model = single_node_model(op, inputs, n_outputs, opset=opset, **attrs)  # shape inference types the outputs
    for out in model.graph.output:
        if not out.type.tensor_type.HasField("shape"):  # old opsets onnx cannot infer
            elem_type = model.graph.input[0].type.tensor_type.elem_type
            out.CopyFrom(helper.make_tensor_value_info(out.name, elem_type, []))
    return model


def run(op, inputs, n_outputs=1, opset=18, **attrs):
    """Run on onyx with read-only inputs, checking that no input changed."""
    feeds = readonly_feeds(inputs)
    model = _model(op, {n: feeds.get(n) for n in inputs}, n_outputs, opset, **attrs)
    return run_onyx_leaving_inputs(model, feeds)


def check_ort(op, inputs, n_outputs=1, opset=18, **attrs):
    """Compare onyx with onnxruntime on the same model."""
    got = run(op, inputs, n_outputs, opset, **attrs)
    feeds = {n: np.asarray(v) for n, v in present(inputs).items()}
    model = _model(op, {n: feeds.get(n) for n in inputs}, n_outputs, opset, **attrs)
    assert_outputs_match(got, run_onnxruntime(model, feeds), exact=True)
    return got


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
I64 = np.int64


# -- old opset forms -----------------------------------------------------------------------


def test_reshape_1_shape_attribute():
    (y,) = run("Reshape", {"x": X}, opset=1, shape=[0, -1])
    assert y.shape == (2, 12)


def test_reshape_allowzero_keeps_zero():
    x = np.zeros((0, 3), np.float32)
    (y,) = run("Reshape", {"x": x, "s": np.array([3, 0], I64)}, opset=14, allowzero=1)
    assert y.shape == (3, 0)


def test_squeeze_unsqueeze_attribute_forms():
    x = np.zeros((1, 3, 1), np.float32)
    assert run("Squeeze", {"x": x}, opset=11, axes=[-1])[0].shape == (1, 3)
    assert run("Squeeze", {"x": x}, opset=1)[0].shape == (3,)
    assert run("Unsqueeze", {"x": x}, opset=11, axes=[0, -1])[0].shape == (1, 1, 3, 1, 1)
    assert run("Unsqueeze", {"x": x, "a": np.array([1], I64)}, opset=13)[0].shape == (1, 1, 3, 1)


def test_squeeze_non_unit_axis_fails():
    with pytest.raises(KernelError, match="size 3"):
        run("Squeeze", {"x": np.zeros((1, 3), np.float32), "a": np.array([1], I64)}, opset=13)


def test_split_attribute_and_uneven_forms():
    x = np.arange(7, dtype=np.float32)
    a, b = run("Split", {"x": x}, n_outputs=2, opset=11, split=[3, 4])
    np.testing.assert_array_equal(b, x[3:])
    parts = check_ort("Split", {"x": x}, n_outputs=3, opset=18, num_outputs=3)
    assert [p.size for p in parts] == [3, 3, 1]
    a, b = run("Split", {"x": x[:6]}, n_outputs=2, opset=13)
    np.testing.assert_array_equal(b, x[3:6])


def test_slice_1_attributes_and_negative_steps():
    (y,) = run("Slice", {"x": X}, opset=1, starts=[1, -3], ends=[2**62, -1], axes=[2, 1])
    np.testing.assert_array_equal(y, X[:, -3:-1, 1:])
    check_ort(
        "Slice",
        {"x": X, "s": np.array([-1, 100], I64), "e": np.array([-2**63, -100], I64),
         "a": np.array([2, 1], I64), "st": np.array([-2, -1], I64)},
        opset=13,
    )


def test_pad_attribute_forms_and_negative_pads():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    (y,) = run("Pad", {"x": x}, opset=2, pads=[1, -1, 0, 2], value=7.0)
    np.testing.assert_array_equal(y, np.pad(x[:, 1:], [(1, 0), (0, 2)], constant_values=7))
    (y1,) = run("Pad", {"x": x}, opset=1, paddings=[1, -1, 0, 2], value=7.0)
    np.testing.assert_array_equal(y1, y)
    for mode in ("constant", "reflect", "edge", "wrap"):
        check_ort("Pad", {"x": x, "p": np.array([2, 0, 1, 3], I64)}, opset=19, mode=mode)
    check_ort("Pad", {"x": x, "p": np.array([-1, 2], I64), "v": None, "ax": np.array([0], I64)}, opset=18)


def test_tile_1_and_depth_to_space_1():
    (y,) = run("Tile", {"x": X, "t": np.array(2, I64), "a": np.array(1, I64)}, opset=1)
    np.testing.assert_array_equal(y, np.tile(X, (1, 2, 1)))
    x = np.arange(32, dtype=np.float32).reshape(1, 8, 2, 2)
    np.testing.assert_array_equal(
        run("DepthToSpace", {"x": x}, opset=1, blocksize=2)[0],
        check_ort("DepthToSpace", {"x": x}, opset=13, blocksize=2, mode="DCR")[0],
    )
    check_ort("DepthToSpace", {"x": x}, opset=13, blocksize=2, mode="CRD")


def test_space_to_depth_crd_inverts_depth_to_space_crd():
    x = np.arange(64, dtype=np.float32).reshape(1, 4, 4, 4)
    (s,) = run("SpaceToDepth", {"x": x}, opset=28, blocksize=2, mode="CRD")
    (back,) = run("DepthToSpace", {"x": s}, opset=28, blocksize=2, mode="CRD")
    np.testing.assert_array_equal(back, x)


def test_concat_expand_transpose():
    check_ort("Concat", {"a": X, "b": X[:, :1]}, opset=13, axis=-2)
    check_ort("Expand", {"x": X[:, :1], "s": np.array([3, 1, 1, 4], I64)}, opset=13)
    check_ort("Transpose", {"x": X}, opset=13, perm=[1, 2, 0])


# -- gathers and scatters ------------------------------------------------------------------------


def test_gathernd_batch_dims():
    data = np.arange(48, dtype=np.float32).reshape(2, 3, 4, 2)
    idx = np.array([[[1, -1], [0, 2]], [[2, 3], [1, 0]]], I64)[:, :, None, :]
    check_ort("GatherND", {"d": data, "i": np.repeat(idx, 2, axis=2)[:, :, 0]}, opset=13, batch_dims=1)
    check_ort("GatherND", {"d": data, "i": np.array([[[1], [0], [3]], [[2], [3], [-1]]], I64)}, opset=13, batch_dims=2)


def test_gather_elements_smaller_indices():
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    check_ort("GatherElements", {"d": data, "i": np.array([[3, -1], [0, 2]], I64)}, opset=13, axis=1)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_reductions_with_duplicates(reduction):
    data = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    idx = np.array([[1, 1, -1], [0, 0, 0]], I64)
    upd = np.array([[2, 3, 4], [5, 6, 7]], np.float32)
    if reduction != "none":  # with duplicates and no reduction the winner is unspecified
        check_ort("ScatterElements", {"d": data, "i": idx, "u": upd}, opset=18, axis=1, reduction=reduction)
        check_ort(
            "ScatterND",
            {"d": data, "i": np.array([[1], [1], [-3]], I64), "u": np.ones((3, 4), np.float32) * 2},
            opset=18,
            reduction=reduction,
        )
    check_ort("ScatterND", {"d": data, "i": np.array([[2, 3], [0, -4]], I64), "u": upd[0, :2]}, opset=18)


@pytest.mark.parametrize(
    "op, inputs, attrs",
    [
        ("Gather", {"d": X, "i": np.array([0, 2], I64)}, {"axis": 0}),
        ("Gather", {"d": X, "i": np.array([-5], I64)}, {"axis": 2, "_opset": 13}),
        ("GatherElements", {"d": X, "i": np.full((2, 3, 4), 3, I64)}, {"axis": 1}),
        ("GatherND", {"d": X, "i": np.array([[1, 3]], I64)}, {}),
        ("ScatterElements", {"d": X, "i": np.full((1, 1, 1), -5, I64), "u": X[:1, :1, :1]}, {"axis": 2}),
        ("ScatterND", {"d": X, "i": np.array([[0, 0, 4]], I64), "u": np.ones(1, np.float32)}, {}),
        ("TensorScatter", {"c": X, "u": X[:, :2], "w": np.array([0, 2], I64)}, {"axis": 1, "_opset": 24}),
    ],
)
def test_out_of_range_indices_raise(op, inputs, attrs):
    attrs = dict(attrs)
    opset = attrs.pop("_opset", 18)
    with pytest.raises(KernelError, match="ValueError"):
        run(op, inputs, opset=opset, **attrs)


def test_tensor_scatter_circular_wraps():
    cache = np.zeros((2, 4, 3), np.float32)
    upd = np.ones((2, 2, 3), np.float32)
    (y,) = run("TensorScatter", {"c": cache, "u": upd, "w": np.array([3, 1], I64)}, opset=24, axis=1, mode="circular")
    assert y[0, [3, 0]].all() and not y[0, 1:3].any()
    assert y[1, 1:3].all() and not y[1, [0, 3]].any()


# -- selection -------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("sorted_", [0, 1])
def test_unique_matches_onnxruntime(axis, sorted_):
    x = np.array([[3, 1, 3], [2, 0, 2], [3, 1, 3]], np.float32)
    attrs = {"sorted": sorted_} if axis is None else {"sorted": sorted_, "axis": axis}
    check_ort("Unique", {"x": x}, n_outputs=4, opset=11, **attrs)


def test_compress_nonzero_trilu_reversesequence():
    check_ort("Compress", {"x": X, "c": np.array([True, False, True])}, opset=11, axis=-2)
    check_ort("NonZero", {"x": X > 7}, opset=13)
    check_ort("Trilu", {"x": X, "k": np.array(-1, I64)}, opset=14, upper=0)
    check_ort("ReverseSequence", {"x": X, "l": np.array([1, 3], I64)}, opset=10, batch_axis=0, time_axis=1)


def test_center_crop_pad_mixed():
    x = np.arange(35, dtype=np.float32).reshape(5, 7)
    (y,) = run("CenterCropPad", {"x": x, "s": np.array([8, 4], I64)})
    assert y.shape == (8, 4)
    np.testing.assert_array_equal(y[1:6], x[:, 1:5])
    assert not y[[0, 6, 7]].any()
