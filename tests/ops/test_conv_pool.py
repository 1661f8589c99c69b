"""Conv, ConvTranspose and pooling on randomized shapes and attributes, checked against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto

import onyx
import oracle
from oracle import single_node_model
import onyx.ops.conv_algorithms

OPSET = 19


def _model(op_type: str, inputs: dict[str, np.ndarray], n_outputs: int = 1, **attrs) -> bytes:
    """A one-node model whose inputs are all graph inputs; output types from strict shape inference."""
    return single_node_model(op_type, inputs, n_outputs, opset=OPSET, strict=True,
                             output_types=[(TensorProto.UNDEFINED, None)] * n_outputs, **attrs).SerializeToString()


def assert_matches_onnxruntime(op_type: str, inputs: dict[str, np.ndarray], n_outputs: int = 1, rtol=1e-4, **attrs):
    model = _model(op_type, inputs, n_outputs, **attrs)
    oracle.assert_matches_onnxruntime(model, inputs, rtol=rtol, atol=rtol, exact=False)


def random_geometry(rng: np.random.Generator, rank: int, max_kernel: int = 3):
    kernel = [int(k) for k in rng.integers(1, max_kernel + 1, rank)]
    strides = [int(s) for s in rng.integers(1, 3, rank)]
    dilations = [int(d) for d in rng.integers(1, 3, rank)]
    pads = [int(p) for p in rng.integers(0, 2, 2 * rank)]
    size = [int(s) for s in rng.integers(5, 9, rank)]
    return kernel, strides, dilations, pads, size


CONV_CASES = [(rank, group, seed) for rank in (1, 2, 3) for group in (1, 2, "depthwise") for seed in range(3)]


@pytest.mark.parametrize(("rank", "group", "seed"), CONV_CASES)
def test_conv_random(rank, group, seed):
    rng = np.random.default_rng(seed * 10 + rank)
    kernel, strides, dilations, pads, size = random_geometry(rng, rank)
    channels = 4
    if group == "depthwise":
        group, out_channels = channels, channels * int(rng.integers(1, 3))
    else:
        out_channels = 6
    x = rng.standard_normal([2, channels, *size]).astype(np.float32)
    w = rng.standard_normal([out_channels, channels // group, *kernel]).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32)
    assert_matches_onnxruntime(
        "Conv", {"x": x, "w": w, "b": b}, group=group, strides=strides, dilations=dilations, pads=pads
    )


@pytest.mark.parametrize(
    ("channels", "out_channels", "group", "kernel", "strides", "dilations"),
    [
        (6, 6, 6, [3, 3], [1, 1], [1, 1]),  # depthwise, flat windows
        (6, 12, 6, [3, 5], [1, 1], [2, 1]),  # depthwise multiplier, dilated
        (4, 40, 1, [3, 3], [1, 1], [1, 1]),  # many outputs, exact windows
        (6, 9, 3, [2, 3], [2, 1], [1, 1]),  # strided, grouped
        (4, 4, 4, [3, 3, 3], [1, 1, 1], [1, 1, 1]),  # 3-D depthwise
    ],
)
def test_conv_chunked_windows(monkeypatch, channels, out_channels, group, kernel, strides, dilations):
    """Tiny im2col chunks split the product over several groups and positions."""
    monkeypatch.setattr(onyx.ops.conv_algorithms, "COLUMN_CHUNK", 64)
    monkeypatch.setattr(onyx.ops.conv_algorithms, "MIN_COLUMNS", 1)
    rng = np.random.default_rng(len(kernel) + group)
    x = rng.standard_normal([2, channels] + [9] * len(kernel)).astype(np.float32)
    w = rng.standard_normal([out_channels, channels // group, *kernel]).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32)
    pads = [1] * len(kernel) + [2] * len(kernel)
    assert_matches_onnxruntime(
        "Conv", {"x": x, "w": w, "b": b}, group=group, strides=strides, dilations=dilations, pads=pads
    )


@pytest.mark.parametrize("chunk", [None, 64])
@pytest.mark.parametrize(("rank", "group", "seed"), [(r, g, s) for r in (1, 2, 3) for g in (1, 3) for s in range(2)])
def test_conv_narrowing_unit_stride(monkeypatch, rank, group, seed, chunk):
    """Convolutions with far fewer outputs than inputs per group take shifted_product."""
    if chunk:
        monkeypatch.setattr(onyx.ops.conv_algorithms, "COLUMN_CHUNK", chunk)
        monkeypatch.setattr(onyx.ops.conv_algorithms, "MIN_COLUMNS", 1)
    rng = np.random.default_rng(seed * 10 + rank)
    kernel, _, dilations, pads, size = random_geometry(rng, rank)
    kernel[0] = 3  # never 1x1
    channels = 12 * group
    x = rng.standard_normal([2, channels, *size]).astype(np.float32)
    w = rng.standard_normal([4 * group, 12, *kernel]).astype(np.float32)
    b = rng.standard_normal(4 * group).astype(np.float32)
    assert_matches_onnxruntime("Conv", {"x": x, "w": w, "b": b}, group=group, dilations=dilations, pads=pads)


@pytest.mark.parametrize("chunk", [None, 64])
@pytest.mark.parametrize(("kernel", "size", "multiplier", "dilations"), [
    ([5, 5], [9, 8], 1, [1, 1]),
    ([7, 7], [12, 12], 2, [1, 1]),
    ([5, 3], [60, 60], 1, [2, 1]),  # many positions
    ([3, 3], [56, 56], 1, [1, 1]),  # small kernel, many positions
    ([1, 5], [70, 60], 1, [1, 2]),  # a single kernel row, many positions
])
def test_conv_depthwise_by_rows(monkeypatch, kernel, size, multiplier, dilations, chunk):
    """Unit-stride 2-D depthwise convolutions with large kernels or images take depthwise_rows."""
    if chunk:
        monkeypatch.setattr(onyx.ops.conv_algorithms, "COLUMN_CHUNK", chunk)
    rng = np.random.default_rng(sum(kernel) + multiplier)
    channels = 5
    x = rng.standard_normal([2, channels, *size]).astype(np.float32)
    w = rng.standard_normal([channels * multiplier, 1, *kernel]).astype(np.float32)
    b = rng.standard_normal(channels * multiplier).astype(np.float32)
    pads = [k // 2 for k in kernel] + [(k - 1) // 2 for k in kernel]
    assert_matches_onnxruntime(
        "Conv", {"x": x, "w": w, "b": b}, group=channels, dilations=dilations, pads=pads
    )


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("kernel", [[1, 1], [3, 3], [2, 4]])
def test_conv_auto_pad(auto_pad, kernel):
    rng = np.random.default_rng(1)
    x = rng.standard_normal([1, 3, 7, 6]).astype(np.float32)
    w = rng.standard_normal([5, 3, *kernel]).astype(np.float32)
    assert_matches_onnxruntime("Conv", {"x": x, "w": w}, auto_pad=auto_pad, strides=[2, 1])


@pytest.mark.parametrize("strides", [[1, 1], [2, 1]])
def test_conv_1x1_widening_with_bias(strides):
    """1x1 convolutions to more channels put the bias in the product (widening_product_with_bias)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal([2, 3, 7, 6]).astype(np.float32)
    for _ in range(2):  # new weights each time: nothing prepared for an earlier session is reused
        w = rng.standard_normal([8, 3, 1, 1]).astype(np.float32)
        b = rng.standard_normal(8).astype(np.float32)
        assert_matches_onnxruntime("Conv", {"x": x, "w": w, "b": b}, strides=strides)


def test_conv_1x1_widening_with_initializer_weights_across_sessions():
    """Prepared weights belong to their session's initializers: a later session never sees them."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(6)
    x = rng.standard_normal([1, 3, 5, 5]).astype(np.float32)
    for _ in range(3):
        w = rng.standard_normal([8, 3, 1, 1]).astype(np.float32)
        b = rng.standard_normal(8).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("Conv", ["x", "w", "b"], ["y"])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        session = onyx.InferenceSession(model.SerializeToString())
        for _ in range(2):
            (y,) = session.run(None, {"x": x})
            np.testing.assert_allclose(y, np.einsum("mc,nchw->nmhw", w[:, :, 0, 0], x) + b.reshape(1, -1, 1, 1),
                                       rtol=1e-5, atol=1e-5)
        del session


def test_conv_1x1_strided():
    rng = np.random.default_rng(2)
    x = rng.standard_normal([2, 8, 9, 9]).astype(np.float32)
    w = rng.standard_normal([4, 8, 1, 1]).astype(np.float32)
    assert_matches_onnxruntime("Conv", {"x": x, "w": w}, strides=[2, 3])


@pytest.mark.parametrize("seed", range(6))
def test_conv_transpose_random(seed):
    rng = np.random.default_rng(seed)
    rank = 1 + seed % 3
    kernel, strides, dilations, pads, size = random_geometry(rng, rank)
    size = [s - 3 for s in size]
    group = 1 + seed % 2
    out_padding = [int(rng.integers(0, min(s, d))) for s, d in zip(strides, dilations)]
    x = rng.standard_normal([2, 2 * group, *size]).astype(np.float32)
    w = rng.standard_normal([2 * group, 3, *kernel]).astype(np.float32)
    b = rng.standard_normal(3 * group).astype(np.float32)
    assert_matches_onnxruntime(
        "ConvTranspose", {"x": x, "w": w, "b": b}, group=group, strides=strides, dilations=dilations,
        pads=pads, output_padding=out_padding,
    )


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_transpose_auto_pad(auto_pad):
    rng = np.random.default_rng(3)
    x = rng.standard_normal([1, 2, 4, 5]).astype(np.float32)
    w = rng.standard_normal([2, 3, 3, 2]).astype(np.float32)
    assert_matches_onnxruntime("ConvTranspose", {"x": x, "w": w}, auto_pad=auto_pad, strides=[2, 3])


POOL_OPS = ("MaxPool", "AveragePool", "LpPool")
POOL_CASES = [(op, rank, seed) for op in POOL_OPS for rank in (1, 2, 3) for seed in range(3)]


@pytest.mark.parametrize(("op", "rank", "seed"), POOL_CASES)
def test_pool_random(op, rank, seed):
    rng = np.random.default_rng(seed * 7 + rank)
    kernel, strides, dilations, pads, size = random_geometry(rng, rank)
    pads = [min(p, k - 1) for p, k in zip(pads, kernel + kernel)]
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": pads, "ceil_mode": int(seed == 1)}
    if op != "LpPool" or rank < 3:
        attrs["dilations"] = dilations
    if op == "AveragePool":
        attrs["count_include_pad"] = int(seed == 2)
    if op == "LpPool":
        attrs.pop("dilations", None)
        attrs["p"] = 2 + seed % 2
    x = rng.standard_normal([2, 3, *size]).astype(np.float32)
    assert_matches_onnxruntime(op, {"x": x}, **attrs)


@pytest.mark.parametrize(("op", "rank", "seed"), [(op, r, s) for op in ("MaxPool", "AveragePool")
                                                  for r in (1, 2, 3) for s in range(3)])
def test_pool_unit_strides(op, rank, seed):
    """Unit-stride pools take the flat path (flat_separable_reduce); ceil mode and dilations included."""
    rng = np.random.default_rng(seed * 11 + rank)
    kernel, _, dilations, pads, size = random_geometry(rng, rank)
    pads = [min(p, k - 1) for p, k in zip(pads, kernel + kernel)]
    attrs = {"kernel_shape": kernel, "strides": [1] * rank, "pads": pads, "dilations": dilations,
             "ceil_mode": int(seed == 1)}
    if op == "AveragePool":
        attrs["count_include_pad"] = int(seed == 2)
    x = rng.standard_normal([2, 3, *size]).astype(np.float32)
    assert_matches_onnxruntime(op, {"x": x}, **attrs)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("size", [13, 70])
def test_strided_pool_on_small_and_large_maps(op, size):
    x = np.random.default_rng(size).standard_normal([1, 3, size, size + 1]).astype(np.float32)
    assert_matches_onnxruntime(op, {"x": x}, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1])


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("attrs", [{}, {"strides": [2, 3]}, {"ceil_mode": 1, "strides": [2, 2]},
                                   {"pads": [1, 0, 0, 0]}, {"pads": [1, 1, 1, 1], "count_include_pad": 1}])
def test_pool_over_the_whole_input(op, attrs):
    """A window as large as the input is a global pool, unless padding makes the windows differ."""
    if op == "MaxPool":
        attrs = {k: v for k, v in attrs.items() if k != "count_include_pad"}
    x = np.random.default_rng(1).standard_normal([2, 3, 5, 6]).astype(np.float32)
    assert_matches_onnxruntime(op, {"x": x}, kernel_shape=[5, 6], **attrs)


@pytest.mark.parametrize("pool", ["max_pool_10", "average_pool_19"])
def test_pool_kernel_of_unit_kernel_returns_a_copy(pool):
    from onyx.ops import pool as pools

    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    y = getattr(pools, pool)(x, kernel_shape=[1, 1])
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(y, x)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_keeps_input(op):
    """Pools reduce into their own buffers, even when a kernel tap covers the whole input."""
    x = np.arange(50, dtype=np.float32).reshape(1, 2, 5, 5)
    before = x.copy()
    assert_matches_onnxruntime(op, {"x": x}, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices(storage_order):
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(np.float32)
    assert_matches_onnxruntime(
        "MaxPool", {"x": x}, n_outputs=2, kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
        storage_order=storage_order,
    )


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_max_pool_integer(dtype):
    x = np.random.default_rng(5).integers(np.iinfo(dtype).min, np.iinfo(dtype).max, (1, 2, 6, 6)).astype(dtype)
    assert_matches_onnxruntime("MaxPool", {"x": x}, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
def test_global_pools(op):
    x = np.random.default_rng(6).standard_normal([2, 3, 4, 5, 3]).astype(np.float32)
    assert_matches_onnxruntime(op, {"x": x})


def test_max_roi_pool():
    rng = np.random.default_rng(7)
    x = rng.standard_normal([2, 3, 10, 12]).astype(np.float32)
    rois = np.array([[0, 1, 1, 8, 6], [1, 0, 2, 11, 9], [0, 3.4, 2.6, 4.2, 3.1]], dtype=np.float32)
    assert_matches_onnxruntime("MaxRoiPool", {"x": x, "rois": rois}, pooled_shape=[3, 2], spatial_scale=0.9)


def test_qlinear_conv_per_channel():
    rng = np.random.default_rng(8)
    inputs = {
        "x": rng.integers(0, 255, (1, 4, 6, 6)).astype(np.uint8),
        "x_scale": np.array(0.02, dtype=np.float32),
        "x_zero_point": np.array(128, dtype=np.uint8),
        "w": oracle.weights_for_ort_u8s8(rng, np.int8, 6, 2, 3, 3),
        "w_scale": rng.uniform(0.001, 0.01, 6).astype(np.float32),
        "w_zero_point": np.zeros(6, dtype=np.int8),
        "y_scale": np.array(0.05, dtype=np.float32),
        "y_zero_point": np.array(100, dtype=np.uint8),
        "b": rng.integers(-1000, 1000, 6).astype(np.int32),
    }
    model = _model("QLinearConv", inputs, group=2, pads=[1, 1, 1, 1])
    expected = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    actual = onyx.InferenceSession(model).run(None, inputs)[0]
    assert actual.dtype == np.uint8
    assert np.abs(actual.astype(np.int32) - expected).max() <= 1
