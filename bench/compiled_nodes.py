"""Compiled kernels ([fast]) against onyx's NumPy kernels and onnxruntime, one node at a time.

    python bench/compiled_nodes.py                      # every case
    python bench/compiled_nodes.py --ops MaxPool --runs 50

Each case is a one-node model at a shape the bench models use; the three sessions run
alternately in one process (onyx.tools.bench.alternate), and the table gives the medians and
the ratio compiled/NumPy (below 1: the compiled kernel is faster). A compiled kernel is
chosen only for node types where this ratio is below 1 at these shapes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))

import onyx  # noqa: E402
from onyx.compiled import COMPILED_KERNELS_KEY  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402

RNG = np.random.default_rng(0)

# (label, op, input shapes, extra constant inputs, attributes, outputs)
CASES = [
    ("resnet stem", "MaxPool", [1, 64, 112, 112], {}, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), 1),
    ("vgg", "MaxPool", [1, 128, 112, 112], {}, dict(kernel_shape=[2, 2], strides=[2, 2]), 1),
    ("inception 3x3 s1", "MaxPool", [1, 192, 28, 28], {}, dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), 1),
    ("squeezenet ceil", "MaxPool", [1, 96, 109, 109], {}, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 1),
    ("inception avg", "AveragePool", [1, 256, 28, 28], {}, dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), 1),
    ("densenet avg", "AveragePool", [1, 128, 56, 56], {}, dict(kernel_shape=[2, 2], strides=[2, 2]), 1),
    ("resnet head", "GlobalAveragePool", [1, 2048, 7, 7], {}, {}, 1),
    ("mobilenet head", "GlobalAveragePool", [1, 1280, 7, 7], {}, {}, 1),
    ("se block", "GlobalAveragePool", [1, 64, 56, 56], {}, {}, 1),
    ("global max", "GlobalMaxPool", [1, 512, 14, 14], {}, {}, 1),
]


def one_node_model(op: str, shape: list[int], constants: dict, attrs: dict, outputs: int) -> bytes:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    names = ["x", *constants]
    initializers = [helper.make_tensor(n, TensorProto.FLOAT, v.shape, v.ravel()) for n, v in constants.items()]
    outs = [f"y{i}" for i in range(outputs)]
    graph = helper.make_graph([helper.make_node(op, names, outs, **attrs)], "g", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def onyx_session(model: bytes, compiled: str):
    options = onyx.SessionOptions()
    options.add_session_config_entry(COMPILED_KERNELS_KEY, compiled)
    return onyx.InferenceSession(model, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", nargs="*", help="op types (default: all)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    import onnxruntime

    print(f"{'case':<20} {'op':<18} {'numpy ms':>9} {'compiled ms':>12} {'ort ms':>8} {'compiled/numpy':>15}")
    for label, op, shape, constants, attrs, outputs in CASES:
        if args.ops and op not in args.ops:
            continue
        model = one_node_model(op, shape, constants, attrs, outputs)
        feeds = {"x": RNG.standard_normal(shape).astype(np.float32)}
        numpy_session, compiled_session = onyx_session(model, "0"), onyx_session(model, "1")
        kernel = compiled_session.get_provider_assignment()[0].kernels[0]
        ort = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        expected = numpy_session.run(None, feeds)
        for ours in (compiled_session.run(None, feeds), ort.run(None, feeds)):
            for a, b in zip(ours, expected):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        timings = alternate({
            "numpy": lambda: numpy_session.run(None, feeds),
            "compiled": lambda: compiled_session.run(None, feeds),
            "ort": lambda: ort.run(None, feeds),
        }, runs=args.runs)
        n, c, o = (timings[k].median * 1e3 for k in ("numpy", "compiled", "ort"))
        print(f"{label:<20} {op:<18} {n:>9.3f} {c:>12.3f} {o:>8.3f} {c / n:>15.2f}  ({kernel})")


if __name__ == "__main__":
    main()
