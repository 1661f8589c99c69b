"""Feeds are checked before anything runs, with errors naming the input and the mismatch."""

import numpy as np
import pytest

import onyx
from models import add_model


@pytest.fixture
def session():
    return onyx.InferenceSession(add_model(shape_a=("batch", 3), shape_b=("batch", 3)))


def feeds(a_shape=(2, 3), b_shape=(2, 3), dtype=np.float32):
    return {"a": np.zeros(a_shape, dtype), "b": np.zeros(b_shape, dtype)}


def test_invalid_argument_is_an_onyx_error():
    assert issubclass(onyx.InvalidArgument, onyx.OnyxError)


def test_unknown_input_name(session):
    with pytest.raises(onyx.InvalidArgument, match=r"unknown input name 'c'.*'a', 'b'"):
        session.run(None, {**feeds(), "c": np.zeros(1, np.float32)})


def test_missing_input(session):
    with pytest.raises(onyx.InvalidArgument, match="missing input 'b'"):
        session.run(None, {"a": np.zeros((2, 3), np.float32)})


def test_wrong_dtype_names_expected_and_received(session):
    with pytest.raises(onyx.InvalidArgument, match=r"input 'a': expected tensor\(float\), got tensor\(double\)"):
        session.run(None, feeds(dtype=np.float64))


def test_wrong_rank(session):
    with pytest.raises(onyx.InvalidArgument, match=r"input 'a': expected rank 2 .* got rank 3"):
        session.run(None, feeds(a_shape=(1, 2, 3)))


def test_fixed_dimension_mismatch(session):
    with pytest.raises(onyx.InvalidArgument, match=r"input 'b': dimension 1 must be 3 .* got 4"):
        session.run(None, feeds(b_shape=(2, 4)))


def test_symbolic_dimension_must_agree_across_inputs(session):
    with pytest.raises(onyx.InvalidArgument, match=r"input 'b': dimension 0 is 'batch', which is 2 in input 'a', but got 5"):
        session.run(None, feeds(a_shape=(2, 3), b_shape=(5, 3)))


def test_feed_must_be_a_dict(session):
    with pytest.raises(onyx.InvalidArgument, match="must be a dict"):
        session.run(None, [np.zeros((2, 3), np.float32)])


def test_lists_are_converted_when_their_dtype_matches():
    sess = onyx.InferenceSession(add_model(dtype=onyx.model.types.elem_type_of(np.int64)))
    assert sess.run(None, {"a": [[1, 2, 3]], "b": [[1, 1, 1]]})[0].tolist() == [[2, 3, 4]]
