"""Compiled kernels ([fast]) against onyx's NumPy kernels and onnxruntime, one small graph at a time.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/compiled_nodes.py     # every case
    python bench/compiled_nodes.py --cases silu --runs 50 --threads 1

Each case is a one- or two-node model at a shape the bench models use; the three sessions run
alternately in one process (onyx.tools.bench.alternate), and the table gives the medians and
the ratio compiled/NumPy (below 1: the compiled kernel is faster) with the kernel the compiled
session chose. A compiled kernel is kept only for node types where this ratio is below 1 on an
idle machine, at one thread and at the default: the pools and Softmax, compiled until
2026-12-03, measured 1.1-1.8x slower than NumPy there and were removed; their cases stay here
to show it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))

import onyx  # noqa: E402
from onyx.compiled import COMPILED_KERNELS_KEY  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402

RNG = np.random.default_rng(0)


def graph_model(nodes: list, shape: list[int], constants: dict | None = None) -> bytes:
    """Input x of ``shape`` -> ``nodes`` -> output y (float32, opset 17)."""
    initializers = [numpy_helper.from_array(v, n) for n, v in (constants or {}).items()]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def silu(shape):
    return graph_model([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])], shape)


def layer_norm(shape):
    width = shape[-1]
    constants = {"scale": RNG.standard_normal(width).astype(np.float32),
                 "bias": RNG.standard_normal(width).astype(np.float32)}
    return graph_model([helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-1)], shape,
                       constants)


def one_node(op: str, **attrs):
    return lambda shape: graph_model([helper.make_node(op, ["x"], ["y"], **attrs)], shape)


# (name, model builder, input shape)
CASES = [
    ("silu", silu, [1, 64, 56, 56]),
    ("silu", silu, [1, 128, 3072]),
    ("layer_norm", layer_norm, [1, 128, 768]),
    ("softmax", one_node("Softmax", axis=-1), [1, 12, 128, 128]),
    ("max_pool", one_node("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), [1, 64, 112, 112]),
    ("max_pool", one_node("MaxPool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), [1, 96, 109, 109]),
    ("average_pool", one_node("AveragePool", kernel_shape=[2, 2], strides=[2, 2]), [1, 128, 56, 56]),
]


def onyx_session(model: bytes, compiled: str, threads: int):
    options = onyx.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry(COMPILED_KERNELS_KEY, compiled)
    return onyx.InferenceSession(model, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0, help="intra_op_num_threads (0: the default)")
    args = parser.parse_args()
    import onnxruntime

    print(f"{'case':<14} {'shape':<18} {'numpy ms':>9} {'compiled ms':>12} {'ort ms':>8} {'compiled/numpy':>15}")
    for name, build, shape in CASES:
        if args.cases and name not in args.cases:
            continue
        model = build(shape)
        feeds = {"x": RNG.standard_normal(shape).astype(np.float32)}
        numpy_session, compiled_session = onyx_session(model, "0", args.threads), onyx_session(model, "1", args.threads)
        kernels = ",".join(k for a in compiled_session.get_provider_assignment() for k in a.kernels)
        ort = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        expected = numpy_session.run(None, feeds)
        for ours in (compiled_session.run(None, feeds), ort.run(None, feeds)):
            for a, b in zip(ours, expected):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        timings = alternate({
            "numpy": lambda: numpy_session.run(None, feeds),
            "compiled": lambda: compiled_session.run(None, feeds),
            "ort": lambda: ort.run(None, feeds),
        }, runs=args.runs, settle_s=0.02)
        n, c, o = (timings[k].median * 1e3 for k in ("numpy", "compiled", "ort"))
        print(f"{name:<14} {'x'.join(map(str, shape)):<18} {n:>9.3f} {c:>12.3f} {o:>8.3f} {c / n:>15.2f}  ({kernels})")


if __name__ == "__main__":
    main()
