"""Random generators: dtype, shape, seeded reproducibility and sample statistics.

The backend suite's Bernoulli tests compare draws with NumPy's global RandomState, which no
runtime can reproduce, so these properties are checked here instead.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx

N = 200_000


def run_node(op_type, inputs=(), out=(TensorProto.FLOAT, 1), opset=22, **attrs):
    """Run a one-node model; inputs are (name, array) pairs, ``out`` the output's (type, rank)."""
    names = [name for name, _ in inputs]
    node = helper.make_node(op_type, names, ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs],
        [helper.make_tensor_value_info("y", out[0], [f"d{i}" for i in range(out[1])])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    session = onyx.InferenceSession(model.SerializeToString())
    return session.run(None, dict(inputs))[0]


@pytest.mark.parametrize(
    ("dtype", "np_dtype"),
    [(TensorProto.FLOAT, np.float32), (TensorProto.DOUBLE, np.float64), (TensorProto.FLOAT16, np.float16)],
)
def test_random_normal_dtype_shape_statistics(dtype, np_dtype):
    y = run_node("RandomNormal", out=(dtype, 2), shape=[N, 2], dtype=dtype, mean=3.0, scale=2.0)
    assert y.dtype == np_dtype and y.shape == (N, 2)
    assert abs(y.astype(np.float64).mean() - 3.0) < 0.02
    assert abs(y.astype(np.float64).std() - 2.0) < 0.02


def test_random_uniform_range_and_statistics():
    y = run_node("RandomUniform", shape=[N], low=-2.0, high=4.0)
    assert y.dtype == np.float32 and y.shape == (N,)
    assert y.min() >= -2.0 and y.max() <= 4.0
    assert abs(y.mean() - 1.0) < 0.03
    assert abs(y.var() - 3.0) < 0.05  # (high - low)^2 / 12


def test_like_ops_take_shape_and_dtype_from_input():
    x = np.zeros((3, 4, 5), np.float64)
    for op in ("RandomNormalLike", "RandomUniformLike"):
        y = run_node(op, [("x", x)], out=(TensorProto.DOUBLE, 3))
        assert y.shape == x.shape and y.dtype == np.float64
        y = run_node(op, [("x", x)], out=(TensorProto.FLOAT, 3), dtype=TensorProto.FLOAT)
        assert y.dtype == np.float32


@pytest.mark.parametrize(
    ("op_type", "inputs", "attrs"),
    [
        ("RandomNormal", [], {"shape": [50]}),
        ("RandomUniform", [], {"shape": [50]}),
        ("RandomNormalLike", [("x", np.zeros(50, np.float32))], {}),
        ("RandomUniformLike", [("x", np.zeros(50, np.float32))], {}),
        ("Bernoulli", [("x", np.full(50, 0.5, np.float32))], {}),
        ("Multinomial", [("x", np.zeros((2, 10), np.float32))], {"sample_size": 50, "out": (TensorProto.INT32, 2)}),
    ],
)
def test_seed_makes_draws_reproducible(op_type, inputs, attrs):
    first = run_node(op_type, inputs, seed=5.0, **attrs)
    assert np.array_equal(first, run_node(op_type, inputs, seed=5.0, **attrs))
    assert not np.array_equal(first, run_node(op_type, inputs, seed=6.0, **attrs))
    assert not np.array_equal(run_node(op_type, inputs, **attrs), run_node(op_type, inputs, **attrs))


def test_bernoulli_dtype_and_mean():
    p = np.tile(np.array([0.0, 0.25, 1.0], np.float32), (N, 1))
    y = run_node("Bernoulli", [("p", p)], out=(TensorProto.FLOAT, 2))
    assert y.dtype == np.float32 and y.shape == p.shape
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert y[:, 0].max() == 0 and y[:, 2].min() == 1
    assert abs(y[:, 1].mean() - 0.25) < 0.01
    assert run_node("Bernoulli", [("p", p[:10])], out=(TensorProto.INT64, 2), dtype=TensorProto.INT64).dtype == np.int64
    assert run_node("Bernoulli", [("p", p[:10])], out=(TensorProto.BOOL, 2), dtype=TensorProto.BOOL).dtype == np.bool_


def test_multinomial_frequencies_follow_softmax():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype(np.float32)
    y = run_node("Multinomial", [("x", logits)], out=(TensorProto.INT32, 2), sample_size=N)
    assert y.dtype == np.int32 and y.shape == (2, N)
    for row, p in zip(y, probs):
        freq = np.bincount(row, minlength=4) / N
        assert np.abs(freq - p).max() < 0.01
    assert run_node("Multinomial", [("x", logits)], out=(TensorProto.INT64, 2), sample_size=3, dtype=TensorProto.INT64).dtype == np.int64
