"""Behaviour of the reduction, linalg, cast and generator kernels the backend suite does not cover.

onnxruntime is the oracle where it implements the case; spec tables otherwise.
"""

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto

from onyx.ops.cast import bit_cast
import oracle
from oracle import single_node_model


def _model(op, inputs, n_outputs=1, opset=21, **attrs):
    """A one-node model: the first input is fed, the others are initializers (so shapes infer)."""
    names = [f"x{i}" for i in range(len(inputs))]
    fed = {n: np.asarray(x) for n, x in zip(names[:1], inputs[:1]) if x is not None}
    constants = dict(zip(names[1:], inputs[1:]))
    model = single_node_model(op, {n: fed.get(n) for n in names[:1]}, n_outputs, opset=opset, initializers=constants,
                              ir_version=10, **attrs)  # shape inference fills in the output types
    return model, fed


def run_onyx(op, inputs, n_outputs=1, opset=21, **attrs):
    return oracle.run_onyx(*_model(op, inputs, n_outputs, opset, **attrs))


def run_both(op, inputs, n_outputs=1, opset=21, **attrs):
    return oracle.run_both(*_model(op, inputs, n_outputs, opset, **attrs))


# -- reductions ----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                                "ReduceLogSum", "ReduceSumSquare", "ReduceLogSumExp", "ReduceMean"])
def test_reduce_noop_with_empty_axes_applies_elementwise_steps(op):
    x = np.abs(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)) + 0.5
    (got,), (want,) = run_both(op, [x, np.array([], np.int64)], opset=18, noop_with_empty_axes=1)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.shape == x.shape


def test_reduce_empty_set_identities_for_ints_and_bools():
    empty = np.zeros((2, 0, 3), np.int32)
    axes = np.array([1], np.int64)
    (mx,) = run_onyx("ReduceMax", [empty, axes], opset=18)
    (mn,) = run_onyx("ReduceMin", [empty, axes], opset=18)
    (pr,) = run_onyx("ReduceProd", [empty, axes], opset=18)
    assert mx.dtype == np.int32 and (mx == np.iinfo(np.int32).min).all() and mx.shape == (2, 1, 3)
    assert (mn == np.iinfo(np.int32).max).all() and (pr == 1).all()
    (bmax,) = run_onyx("ReduceMax", [np.zeros((0, 2), bool), np.array([0], np.int64)], opset=20, keepdims=0)
    assert bmax.dtype == np.bool_ and not bmax.any() and bmax.shape == (2,)


def test_reduce_sum_keeps_int32_and_float16():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    (got,) = run_onyx("ReduceSum", [x, np.array([1], np.int64)], opset=13, keepdims=0)
    assert got.dtype == np.int32 and got.tolist() == [6, 22, 38]
    h = np.full(4096, 0.1, np.float16)
    (hs,) = run_onyx("ReduceSum", [h], opset=13)
    assert hs.dtype == np.float16 and abs(float(hs[0]) - 409.5) < 1  # accumulated wider than float16


def test_reduce_axes_attribute_in_old_opsets():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    got, want = run_both("ReduceLogSumExp", [x], opset=13, axes=[0, -1], keepdims=0)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)


def test_argmax_select_last_index_on_ties():
    x = np.array([[1, 3, 3, 0], [2, 2, 1, 2]], np.float32)
    for last in (0, 1):
        got, want = run_both("ArgMax", [x], opset=13, axis=1, select_last_index=last)
        np.testing.assert_array_equal(got[0], want[0])
        got, want = run_both("ArgMin", [x], opset=13, axis=0, keepdims=0, select_last_index=last)
        np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum_3d_axis_1(exclusive, reverse):
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    got, want = run_both("CumSum", [x, np.array(1, np.int64)], opset=14, exclusive=exclusive, reverse=reverse)
    assert got[0].dtype == np.int32
    np.testing.assert_array_equal(got[0], want[0])


# -- linalg -----------------------------------------------------------------------------------


@pytest.mark.parametrize("largest,sorted_", [(1, 1), (0, 1), (1, 0)])
def test_topk_ties_pick_lower_indices(largest, sorted_):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5, size=(3, 200, 2)).astype(np.float32)  # many ties, small k: partition path
    values, indices = run_onyx("TopK", [x, np.array([7], np.int64)], n_outputs=2, axis=1,
                               largest=largest, sorted=sorted_)
    moved = np.moveaxis(x, 1, -1)
    key = -moved if largest else moved
    order = np.argsort(key, axis=-1, kind="stable")[..., :7]  # value order, lower index first on ties
    if not sorted_:
        order = np.sort(order, axis=-1)
    np.testing.assert_array_equal(np.moveaxis(indices, 1, -1), order)
    np.testing.assert_array_equal(values, np.take_along_axis(x, indices, axis=1))


def test_topk_with_nan_and_k_equal_n():
    x = np.array([[1.0, np.nan, 3.0, 2.0, 0.5]], np.float32)
    got, want = run_both("TopK", [x, np.array([2], np.int64)], n_outputs=2, opset=11)
    np.testing.assert_array_equal(got[1], want[1])
    values, indices = run_onyx("TopK", [x[:, [0, 2, 3]], np.array([3], np.int64)], n_outputs=2, opset=11, largest=0)
    np.testing.assert_array_equal(indices, [[0, 2, 1]])


def test_topk_k_attribute_opset_1():
    x = np.array([3, 1, 2], np.float32)
    values, indices = run_onyx("TopK", [x], n_outputs=2, opset=9, k=2)
    np.testing.assert_array_equal(values, [3, 2])
    np.testing.assert_array_equal(indices, [0, 2])


@pytest.mark.parametrize("c_shape", [None, (1,), (5,), (4, 1), (4, 5)])
def test_gemm_transposes_and_c_broadcast(c_shape):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    c = None if c_shape is None else rng.standard_normal(c_shape).astype(np.float32)
    got, want = run_both("Gemm", [a, b, c], opset=13, transA=1, transB=1, alpha=0.5, beta=2.0)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


def test_gemm_opset6_broadcast_attribute():
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 4), np.float32)
    (got,) = run_onyx("Gemm", [a, b, np.array([1.0], np.float32)], opset=6, broadcast=1)
    np.testing.assert_array_equal(got, np.full((2, 4), 4.0, np.float32))


def test_matmul_batched_broadcast_and_int():
    rng = np.random.default_rng(4)
    a = rng.integers(-5, 5, (2, 1, 3, 4)).astype(np.int32)
    b = rng.integers(-5, 5, (3, 4, 2)).astype(np.int32)
    got, want = run_both("MatMul", [a, b], opset=13)
    assert got[0].dtype == np.int32
    np.testing.assert_array_equal(got[0], want[0])


def test_einsum_implicit_output_and_spaces():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    got, want = run_both("Einsum", [a, b], opset=12, equation="ij, jk")
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)


# -- cast ----------------------------------------------------------------------------------


def test_cast_float_to_string_like_onnxruntime():
    x = np.array([0.1, 1 / 3, 1e10, np.nan, np.inf, -np.inf, -2.5, 3.0], np.float32)
    got, want = run_both("Cast", [x], to=TensorProto.STRING)
    assert got[0].tolist() == want[0].tolist()
    got, want = run_both("Cast", [np.array([True, False])], to=TensorProto.STRING)
    assert got[0].tolist() == want[0].tolist()


def test_cast_string_to_numbers():
    s = np.array(["NaN", "INF", "-inf", "+INF", "1e-5", "-3.25"], dtype=object)
    got, want = run_both("Cast", [s], to=TensorProto.FLOAT)
    np.testing.assert_array_equal(got[0], want[0])
    got, want = run_both("Cast", [np.array(["100", "-3"], dtype=object)], to=TensorProto.INT64)
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize(
    "to,saturate,expected",
    [
        (TensorProto.FLOAT8E4M3FN, 1, [448, -448, 448, -448, np.nan, 0.3, -0.0, 448]),
        (TensorProto.FLOAT8E4M3FN, 0, [np.nan, np.nan, np.nan, np.nan, np.nan, 0.3, -0.0, np.nan]),
        (TensorProto.FLOAT8E5M2, 1, [57344, -57344, 57344, -57344, np.nan, 0.3, -0.0, 512]),
        (TensorProto.FLOAT8E5M2, 0, [np.inf, -np.inf, np.inf, -np.inf, np.nan, 0.3, -0.0, 512]),
        (TensorProto.FLOAT8E4M3FNUZ, 1, [240, -240, 240, -240, np.nan, 0.3, 0.0, 240]),
    ],
)
def test_cast_float8_saturation_table(to, saturate, expected):
    x = np.array([1e6, -1e6, np.inf, -np.inf, np.nan, 0.3, -0.0, 500.0], np.float32)
    (got,) = run_onyx("Cast", [x], opset=19, to=to, saturate=saturate)
    want = np.array(expected, np.float32).astype(got.dtype)  # in-range values: round to nearest even
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))  # any NaN sign
    assert np.signbit(got.astype(np.float32)[6]) == (to in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2))


@pytest.mark.parametrize("round_mode,expected", [("up", [0.25, 2.0, 2.0]), ("down", [0.125, 1.0, 2.0]),
                                                 ("nearest", [0.25, 1.0, 2.0])])
def test_cast_float8e8m0_round_modes(round_mode, expected):
    x = np.array([0.2, 1.4, 2.0], np.float32)
    (got,) = run_onyx("Cast", [x], opset=24, to=TensorProto.FLOAT8E8M0, round_mode=round_mode)
    assert got.dtype == ml_dtypes.float8_e8m0fnu
    np.testing.assert_array_equal(got.astype(np.float32), expected)


def test_cast_float8e8m0_saturation_table():
    x = np.array([0.0, np.inf, np.nan, 1e39], np.float64)
    (sat,) = run_onyx("Cast", [x], opset=24, to=TensorProto.FLOAT8E8M0)
    assert sat.view(np.uint8).tolist() == [0, 254, 255, 254]
    (nosat,) = run_onyx("Cast", [x], opset=24, to=TensorProto.FLOAT8E8M0, saturate=0, round_mode="nearest")
    assert nosat.view(np.uint8).tolist() == [255, 255, 255, 255]


def test_bitcast_sub_byte_and_scalar():
    (u,) = run_onyx("BitCast", [np.array([-1, 7, -8], ml_dtypes.int4)], opset=26, to=TensorProto.UINT4)
    assert u.dtype == ml_dtypes.uint4 and u.astype(np.int32).tolist() == [15, 7, 8]
    (i,) = run_onyx("BitCast", [np.array(1.0, np.float32)], opset=26, to=TensorProto.INT32)
    assert i.shape == () and int(i) == 0x3F800000
    with pytest.raises(TypeError, match="bit width"):
        bit_cast(np.array([1.0], np.float32), to=TensorProto.INT16)


# -- generators ---------------------------------------------------------------------------


@pytest.mark.parametrize("attr,value,dtype", [("value_float", 1.5, np.float32), ("value_floats", [1.0, 2.0], np.float32),
                                              ("value_int", 3, np.int64), ("value_ints", [1, 2], np.int64),
                                              ("value_string", "ab", object), ("value_strings", ["a", "b"], object)])
def test_constant_attribute_forms(attr, value, dtype):
    (got,) = run_onyx("Constant", [], opset=13, **{attr: value})
    assert got.dtype == dtype
    assert got.tolist() == value


def test_dropout_training_is_seeded_and_scaled():
    x = np.ones((4, 50), np.float32)
    args = [x, np.array(0.25, np.float32), np.array(True)]
    y1, m1 = run_onyx("Dropout", args, n_outputs=2, opset=13, seed=7)
    y2, _ = run_onyx("Dropout", args, n_outputs=2, opset=13, seed=7)
    np.testing.assert_array_equal(y1, y2)
    assert m1.dtype == np.bool_ and 0 < m1.mean() < 1
    np.testing.assert_allclose(y1, np.where(m1, 1 / 0.75, 0).astype(np.float32))


def test_range_and_onehot_and_shape_against_onnxruntime():
    got, want = run_both("Range", [np.array(10, np.int64), np.array(-3, np.int64), np.array(-4, np.int64)], opset=11)
    np.testing.assert_array_equal(got[0], want[0])
    got, want = run_both("Range", [np.array(v, np.float32) for v in (0.5, 2.0, 0.3)], opset=11)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    idx = np.array([[0, -1], [5, 2]], np.int64)
    got, want = run_both("OneHot", [idx, np.array(3, np.int64), np.array([0, 9], np.float32)], opset=11, axis=1)
    np.testing.assert_array_equal(got[0], want[0])
    got, want = run_both("Shape", [np.zeros((2, 3, 4, 5), np.float32)], opset=21, start=-3, end=-1)
    np.testing.assert_array_equal(got[0], want[0])
