"""Sequence operators. A sequence is a Python list of arrays (as onnxruntime returns it)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onyx.ops.registry import kernel
from onyx.ops.util import normalize_axis


def _position(position, length: int, *, insert: bool) -> int:
    """A possibly negative sequence position, checked against the spec's accepted range."""
    p = int(np.asarray(position).reshape(-1)[0])
    upper = length if insert else length - 1
    if not -length <= p <= upper:
        raise ValueError(f"position {p} is out of range for a sequence of length {length}")
    return p + length if p < 0 else p


@kernel("SequenceConstruct", since=11)
def sequence_construct(*inputs):
    return list(inputs)


@kernel("SequenceEmpty", since=11)
def sequence_empty(*, dtype=TensorProto.FLOAT):
    return []


@kernel("SequenceAt", since=11)
def sequence_at(sequence, position):
    return sequence[_position(position, len(sequence), insert=False)]


@kernel("SequenceInsert", since=11)
def sequence_insert(sequence, tensor, position=None):
    result = list(sequence)
    index = len(result) if position is None else _position(position, len(result), insert=True)
    result.insert(index, tensor)
    return result


@kernel("SequenceErase", since=11)
def sequence_erase(sequence, position=None):
    result = list(sequence)
    index = len(result) - 1 if position is None else _position(position, len(result), insert=False)
    del result[index]
    return result


@kernel("SequenceLength", since=11)
def sequence_length(sequence):
    return np.array(len(sequence), dtype=np.int64)


@kernel("SplitToSequence", since=11)
def split_to_sequence(input, split=None, *, axis=0, keepdims=1):
    axis = normalize_axis(axis, input.ndim)
    if split is None:
        parts = np.split(input, input.shape[axis], axis=axis)
        return [np.squeeze(p, axis=axis) for p in parts] if not keepdims else parts
    split = np.asarray(split, dtype=np.int64)
    if split.ndim == 0:
        size = int(split)
        if size <= 0:
            raise ValueError(f"split size must be positive, got {size}")
        bounds = list(range(size, input.shape[axis], size))
    else:
        if split.sum() != input.shape[axis]:
            raise ValueError(f"split sizes {split.tolist()} do not add up to dimension {input.shape[axis]}")
        bounds = np.cumsum(split)[:-1].tolist()
    return np.split(input, bounds, axis=axis)


@kernel("ConcatFromSequence", since=11)
def concat_from_sequence(input_sequence, *, axis, new_axis=0):
    if not input_sequence:
        raise ValueError("ConcatFromSequence needs at least one tensor")
    if new_axis:
        return np.stack(input_sequence, axis=normalize_axis(axis, input_sequence[0].ndim + 1))
    return np.concatenate(input_sequence, axis=normalize_axis(axis, input_sequence[0].ndim))


@kernel("SequenceMap", since=17)
def sequence_map(input_sequence, *additional_inputs, body, _outer):
    inputs = [input_sequence, *additional_inputs]
    n_outputs = len(body.output_names)
    outputs: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for i in range(len(input_sequence)):
        args = [x[i] if isinstance(x, list) else x for x in inputs]
        for acc, value in zip(outputs, body.run(args, _outer)):
            acc.append(value)
    return tuple(outputs)

