"""Random generators: RandomNormal(Like), RandomUniform(Like), Bernoulli, Multinomial.

With a ``seed`` attribute every run of a node draws the same values (a NumPy
Generator seeded from the seed's bits); without one each run uses fresh entropy, or the
process-wide generator that set_seed() seeded.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx.helper import tensor_dtype_to_np_dtype

from onyx.ops.registry import kernel


_process_generator: np.random.Generator | None = None  # set by set_seed()


def set_seed(seed: int) -> None:
    """Make nodes without a ``seed`` attribute draw from one generator seeded with ``seed``
    (onnxruntime.set_seed): a process then repeats its random values from run to run."""
    global _process_generator
    _process_generator = np.random.default_rng(int(seed))


def make_generator(seed: float | None) -> np.random.Generator:
    """A Generator seeded from the float ``seed`` attribute (its IEEE bits), or from set_seed()'s
    generator, or from OS entropy."""
    if seed is None:
        return _process_generator if _process_generator is not None else np.random.default_rng()
    return np.random.default_rng(int(np.float64(seed).view(np.uint64)))


_FLOAT_TYPES = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64, ml_dtypes.bfloat16))


def _output_dtype(dtype: int | None, default: np.dtype) -> np.dtype:
    return np.dtype(tensor_dtype_to_np_dtype(dtype)) if dtype is not None else np.dtype(default)


def _float_dtype(dtype: int | None, default: np.dtype) -> np.dtype:
    out = _output_dtype(dtype, default)
    if out not in _FLOAT_TYPES:
        raise TypeError(f"random values must be float16/bfloat16/float/double, not {out}; set the dtype attribute")
    return out


def _normal(shape: tuple[int, ...], dtype: np.dtype, mean: float, scale: float, seed: float | None) -> np.ndarray:
    draws = make_generator(seed).standard_normal(shape)
    draws *= scale
    draws += mean
    return draws.astype(dtype)


def _uniform(shape: tuple[int, ...], dtype: np.dtype, low: float, high: float, seed: float | None) -> np.ndarray:
    return make_generator(seed).uniform(low, high, shape).astype(dtype)


@kernel("RandomNormal", since=1)
def random_normal(*, shape, dtype=1, mean=0.0, scale=1.0, seed=None):
    return _normal(tuple(shape), _float_dtype(dtype, np.float32), mean, scale, seed)


@kernel("RandomUniform", since=1)
def random_uniform(*, shape, dtype=1, high=1.0, low=0.0, seed=None):
    return _uniform(tuple(shape), _float_dtype(dtype, np.float32), low, high, seed)


@kernel("RandomNormalLike", since=1)
def random_normal_like(input, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    return _normal(input.shape, _float_dtype(dtype, input.dtype), mean, scale, seed)


@kernel("RandomUniformLike", since=1)
def random_uniform_like(input, *, dtype=None, high=1.0, low=0.0, seed=None):
    return _uniform(input.shape, _float_dtype(dtype, input.dtype), low, high, seed)


@kernel("Bernoulli", since=15)
def bernoulli(input, *, dtype=None, seed=None):
    """1 with probability input[i], else 0, in ``dtype`` (default: the input's type)."""
    draws = make_generator(seed).random(input.shape)
    return (draws < input.astype(np.float64)).astype(_output_dtype(dtype, input.dtype))


@kernel("Multinomial", since=7)
def multinomial(input, *, dtype=6, sample_size=1, seed=None):
    """``sample_size`` class indices per batch row, drawn from the row's unnormalized log-probabilities."""
    if input.ndim != 2:
        raise ValueError(f"Multinomial expects a [batch_size, class_size] input, got shape {input.shape}")
    batch, classes = input.shape
    logits = input.astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    draws = make_generator(seed).random((batch, sample_size))
    # one searchsorted over all rows: shift row r's CDF and draws into [r, r + 1)
    rows = np.arange(batch, dtype=np.float64)[:, None]
    flat = (cdf + rows).reshape(-1)
    index = np.searchsorted(flat, (draws + rows).reshape(-1), side="right").reshape(batch, sample_size)
    samples = np.minimum(index - np.arange(batch)[:, None] * classes, classes - 1)
    return samples.astype(_output_dtype(dtype, np.int32))
