"""The executor's cost per node: a chain of tiny elementwise nodes, onyx against onnxruntime.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/executor_overhead.py [--nodes 300]

The model is a chain of N nodes (Add, Mul, Relu, Neg, Sub, Abs in turn) on a [1, 4] float
tensor, unoptimized (ORT_DISABLE_ALL in both runtimes), so every node runs and each does
almost no arithmetic: a run's time over N is what the runtime spends per node. Reported:
medians of ``InferenceSession.run`` for onyx and onnxruntime (alternating, same process),
onyx's ``Plan.run`` alone (no feed checks, thread limits or output copies), and a one-node
session's run (the fixed cost of a run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

import onyx  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402

OPS = ("Add", "Mul", "Relu", "Neg", "Sub", "Abs")


def chain(nodes: int) -> bytes:
    """A model of ``nodes`` elementwise nodes in a row on a [1, 4] float input."""
    graph_nodes, previous = [], "x"
    for i in range(nodes):
        op = OPS[i % len(OPS)]
        graph_nodes.append(helper.make_node(op, [previous, "c"] if op in ("Add", "Mul", "Sub") else [previous], [f"v{i}"]))
        previous = f"v{i}"
    graph = helper.make_graph(graph_nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, 4])],
                              [numpy_helper.from_array(np.full((1, 4), 0.5, np.float32), "c")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def main() -> None:
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    ort_options = onnxruntime.SessionOptions()
    ort_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    ours = onyx.InferenceSession(chain(args.nodes), options)
    one = onyx.InferenceSession(chain(1), options)
    theirs = onnxruntime.InferenceSession(chain(args.nodes), ort_options, providers=["CPUExecutionProvider"])
    feeds = {"x": np.ones((1, 4), np.float32)}
    inputs = [feeds["x"]]
    np.testing.assert_allclose(ours.run(None, feeds)[0], theirs.run(None, feeds)[0], rtol=1e-6)
    timings = alternate({
        "onyx session.run": lambda: ours.run(None, feeds),
        "onyx Plan.run": lambda: ours._plan.run(inputs),
        "onyx 1-node session.run": lambda: one.run(None, feeds),
        "onnxruntime session.run": lambda: theirs.run(None, feeds),
    }, warmup=20, runs=args.runs)
    print(f"chain of {args.nodes} nodes on [1, 4] floats, medians of {args.runs} alternating runs")
    for name, timing in timings.items():
        nodes = 1 if name.startswith("onyx 1-node") else args.nodes
        print(f"{name:26s} {timing.median * 1e6:9.1f} us   {timing.median / nodes * 1e6:7.2f} us per node")


if __name__ == "__main__":
    main()
