"""Session creation time against the node count: onyx and onnxruntime on chains of Relu nodes.

    python bench/creation_scaling.py                      # 1k, 10k and 100k nodes
    python bench/creation_scaling.py --sizes 1000 20000 --runs 3

For each size: the median creation time of each runtime over alternating creations in this
process (after one warm-up creation each on a small chain), their ratio, and the time per
node, which stays flat when creation is linear in the node count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

import onyx  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402


def relu_chain(n: int) -> bytes:
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(nodes, f"chain{n}", [helper.make_tensor_value_info("v0", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, [4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=0, help="creations per runtime and size (default: 5, 1 above 20k)")
    args = parser.parse_args()
    import onnxruntime

    runtimes = {
        "onyx": lambda data: onyx.InferenceSession(data),
        "onnxruntime": lambda data: onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]),
    }
    print(f"{'nodes':>8} {'onyx s':>9} {'ort s':>9} {'ratio':>6} {'onyx us/node':>13} {'ort us/node':>12}")
    for make in runtimes.values():
        make(relu_chain(10))
    for n in args.sizes:
        data = relu_chain(n)
        runs = args.runs or (5 if n <= 20000 else 1)
        timings = alternate({name: (lambda make=make: make(data)) for name, make in runtimes.items()},
                            warmup=0, runs=runs)
        ours, theirs = timings["onyx"].median, timings["onnxruntime"].median
        print(f"{n:>8} {ours:>9.3f} {theirs:>9.3f} {ours / theirs:>6.2f} {ours / n * 1e6:>13.1f} "
              f"{theirs / n * 1e6:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
