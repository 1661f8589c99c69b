"""Feeds: Python lists take the input's declared type; NumPy arrays must have it."""

import numpy as np
import pytest
from onnx import TensorProto

from compat_models import identity_model, session

CONVERTED = [
    (TensorProto.INT32, [1, 2, 3], np.int32),
    (TensorProto.FLOAT, [1, 2.5], np.float32),
    (TensorProto.FLOAT, [["1", "2"]], np.float32),
    (TensorProto.INT64, [3.7], np.int64),
    (TensorProto.BOOL, [1, 0], np.bool_),
    (TensorProto.FLOAT16, [1.5, 2], np.float16),
    (TensorProto.STRING, [1, 2], object),
    (TensorProto.STRING, ["a", "b"], object),
]


@pytest.mark.parametrize("elem_type,feed,dtype", CONVERTED)
def test_lists_are_converted_to_the_declared_type(rt, elem_type, feed, dtype):
    (y,) = session(rt, identity_model(elem_type, shape=None)).run(None, {"x": feed})
    expected = np.array(feed, dtype=str).astype(object) if dtype is object else np.array(feed, dtype=dtype)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, expected)


def test_list_of_arrays_is_converted(rt):
    (y,) = session(rt, identity_model(shape=[None, "N"])).run(None, {"x": [np.ones(2), np.ones(2)]})
    assert y.dtype == np.float32 and y.shape == (2, 2)


@pytest.mark.parametrize("feed", [[-1, 300], [[1], [1, 2]]])
def test_lists_that_do_not_fit_are_refused(rt, feed):
    with pytest.raises(Exception):
        session(rt, identity_model(TensorProto.UINT8, shape=[None])).run(None, {"x": feed})


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_numpy_arrays_of_another_dtype_are_refused(rt, state, dtype):
    with pytest.raises(state.InvalidArgument):
        session(rt, identity_model(shape=[None])).run(None, {"x": np.ones(2, dtype)})


def test_empty_list_has_rank_one(rt, state):
    with pytest.raises(state.InvalidArgument):
        session(rt, identity_model(shape=[None, None])).run(None, {"x": []})


def test_negative_dim_values_are_free_dimensions(rt, state):
    sess = session(rt, identity_model(shape=[-1, 3, 0]))
    assert sess.get_inputs()[0].shape == [None, 3, 0]
    assert sess.run(None, {"x": np.ones((5, 3, 0), np.float32)})[0].shape == (5, 3, 0)
    with pytest.raises(state.InvalidArgument):
        sess.run(None, {"x": np.ones((5, 4, 0), np.float32)})


def test_ortvalue_feeds_are_accepted_by_run(rt):
    value = rt.OrtValue.ortvalue_from_numpy(np.arange(3, dtype=np.float32))
    (y,) = session(rt, identity_model(shape=[None])).run(None, {"x": value})
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_question_mark_dims_are_each_free(rt):
    """Paddle exports name every free dimension "?" (rapidocr's recognizer: ['?', 3, 48, '?'])."""
    sess = session(rt, identity_model(shape=["?", 3, "?"]))
    assert sess.run(None, {"x": np.ones((1, 3, 5), np.float32)})[0].shape == (1, 3, 5)
