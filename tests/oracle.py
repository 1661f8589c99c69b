"""Single-node ONNX models checked against onnxruntime: the shared oracle of the tests under tests/ops.

Build a one-node model with :func:`single_node_model`, then compare onyx with onnxruntime on it with
:func:`assert_matches_onnxruntime` (or :func:`run_both` and :func:`assert_outputs_match` for custom checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

import onyx


def elem_type(dtype) -> int:
    """The ONNX element type of a NumPy dtype (object arrays hold strings)."""
    dtype = np.dtype(dtype)
    return TensorProto.STRING if dtype == object else helper.np_dtype_to_tensor_dtype(dtype)


def weights_for_ort_u8s8(rng: np.random.Generator, dtype, *shape: int) -> np.ndarray:
    """Random quantized weights that onnxruntime multiplies exactly with uint8 activations.

    On x86 processors without AVX-512 VNNI, onnxruntime's uint8 x int8 kernels add pairs of products
    in int16 with saturation, so full-range int8 weights give it wrong sums (its quantizer's
    ``reduce_range`` exists for this reason). int8 weights are drawn from 7 bits, [-64, 63], where no
    pair can saturate; uint8 weights use their full range."""
    low, high = (-64, 64) if np.dtype(dtype) == np.int8 else (np.iinfo(dtype).min, np.iinfo(dtype).max + 1)
    return rng.integers(low, high, shape).astype(dtype)


def present(inputs: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    """The feeds of ``inputs``: the named arrays that are not None (absent optional inputs)."""
    return {name: value for name, value in inputs.items() if value is not None}


def single_node_model(
    op_type: str,
    inputs: Mapping[str, np.ndarray | None],
    outputs: int | Sequence[str] = 1,
    *,
    opset: int,
    domain: str = "",
    extra_opsets: Mapping[str, int] | None = None,
    initializers: Mapping[str, np.ndarray] | None = None,
    output_types: Sequence[tuple[int, Sequence | None]] | None = None,
    infer_types: bool = True,
    strict: bool = False,
    ir_version: int | None = None,
    graph_name: str = "g",
    **attrs,
) -> onnx.ModelProto:
    """A model of one ``op_type`` node importing ``("", opset)`` and ``extra_opsets``.

    ``inputs`` maps names to arrays, fed as graph inputs (None: an absent optional input, named "");
    ``initializers`` (likewise) follow them as constant node inputs. ``outputs`` is a count (named y0, y1, ...) or
    a list of names ("" for an absent optional output, which is not a graph output). ``output_types``
    gives each graph output an (element type, shape) pair; without it outputs are left untyped.
    ``infer_types`` runs onnx shape inference (``strict`` mode optional) to type them.
    """
    initializers = dict(initializers or {})
    names = [name if value is not None else "" for name, value in [*inputs.items(), *initializers.items()]]
    out_names = [f"y{i}" for i in range(outputs)] if isinstance(outputs, int) else list(outputs)
    node = helper.make_node(op_type, names, out_names, domain=domain or None, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, elem_type(v.dtype), v.shape) for n, v in present(inputs).items()]
    out_names = [n for n in out_names if n]
    if output_types is None:
        graph_outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    else:
        graph_outputs = [helper.make_tensor_value_info(n, t, s) for n, (t, s) in zip(out_names, output_types)]
    constants = [numpy_helper.from_array(np.asarray(v), n) for n, v in present(initializers).items()]
    graph = helper.make_graph([node], graph_name, graph_inputs, graph_outputs, initializer=constants)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets)
    if ir_version is not None:
        model.ir_version = ir_version
    if infer_types:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=strict)
    return model


def _bytes(model: onnx.ModelProto | bytes) -> bytes:
    return model if isinstance(model, bytes) else model.SerializeToString()


def run_onyx(model: onnx.ModelProto | bytes, feeds: Mapping[str, np.ndarray]) -> list:
    return onyx.InferenceSession(_bytes(model)).run(None, dict(feeds))


def run_onnxruntime(model: onnx.ModelProto | bytes, feeds: Mapping[str, np.ndarray]) -> list:
    session = onnxruntime.InferenceSession(_bytes(model), providers=["CPUExecutionProvider"])
    return session.run(None, dict(feeds))


def run_both(model: onnx.ModelProto | bytes, feeds: Mapping[str, np.ndarray]) -> tuple[list, list]:
    """(onyx's outputs, onnxruntime's outputs) of ``model`` on ``feeds``."""
    return run_onyx(model, feeds), run_onnxruntime(model, feeds)


def readonly_feeds(inputs: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The present inputs as read-only arrays (for :func:`run_onyx_leaving_inputs`)."""
    feeds = {}
    for name, value in present(inputs).items():
        value = np.array(value)
        value.setflags(write=False)
        feeds[name] = value
    return feeds


def run_onyx_leaving_inputs(model: onnx.ModelProto | bytes, feeds: Mapping[str, np.ndarray]) -> list:
    """Run on onyx, checking that no feed changed."""
    before = {n: v.copy() for n, v in feeds.items()}
    out = run_onyx(model, feeds)
    for name, value in feeds.items():
        np.testing.assert_array_equal(value, before[name])
    return out


def assert_outputs_match(actual, expected, *, rtol=1e-4, atol=1e-5, exact: bool | None = None, skip=()) -> None:
    """Same count, dtypes and shapes; values equal or allclose: ``exact`` True compares every output
    for equality, False every output with allclose, None (default) floating outputs with allclose
    and the others for equality.

    Outputs whose index is in ``skip`` have only their dtype and shape compared.
    """
    assert len(actual) == len(expected), (len(actual), len(expected))
    for i, (got, want) in enumerate(zip(actual, expected)):
        assert got.dtype == want.dtype, (i, got.dtype, want.dtype)
        assert got.shape == want.shape, (i, got.shape, want.shape)
        if i in skip:
            continue
        if exact if exact is not None else not np.issubdtype(want.dtype, np.floating):
            np.testing.assert_array_equal(got, want, err_msg=f"output {i}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"output {i}")


def assert_matches_onnxruntime(model: onnx.ModelProto | bytes, feeds: Mapping[str, np.ndarray], **tolerances) -> list:
    """Run ``model`` on onyx and onnxruntime and :func:`assert_outputs_match`; returns onyx's outputs."""
    actual, expected = run_both(model, feeds)
    assert_outputs_match(actual, expected, **tolerances)
    return actual
