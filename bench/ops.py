"""Per-operator comparison: every distinct convolution or pool of a model, run alone as a
one-node model in onyx and in onnxruntime (alternating runs, each after an idle pause and a
re-warm as in bench/run.py), to tell which kernels lag.

    python bench/ops.py squeezenet                # a model name as bench/run.py knows it
    python bench/ops.py path/to/model.onnx --ops Conv MaxPool --runs 30

Each row is one (op, input shape, attributes) with how many nodes share it, both medians,
their ratio and onyx's GFLOP/s for convolutions; the totals weigh rows by their node counts.
Weights that the model computes (the light_* models build theirs with ConstantOfShape) are
replaced by random values of the same shape: the time does not depend on them. Compare the
totals with the whole model's numbers from bench/run.py: onnxruntime runs a network faster
than the sum of its single operators where its layout transformer (NCHWc) applies.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import onyx  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402
from run import model_paths  # noqa: E402


def value_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


def single_node_model(node: onnx.NodeProto, shapes: dict, initializers: dict, opset: int,
                      rng: np.random.Generator) -> onnx.ModelProto:
    """``node`` alone: its first input fed, the others (weights, bias) constant."""
    constants = []
    for name in node.input[1:]:
        if name:
            value = initializers.get(name)
            if value is None:
                value = (rng.standard_normal(shapes[name]) * 0.1).astype(np.float32)
            constants.append(numpy_helper.from_array(value, name))
    elem = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [node], "op", [helper.make_tensor_value_info(node.input[0], elem, shapes[node.input[0]])],
        [helper.make_tensor_value_info(node.output[0], elem, None)], constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def conv_flops(node: onnx.NodeProto, shapes: dict, output: np.ndarray) -> float:
    weight = shapes.get(node.input[1]) if node.op_type == "Conv" else None
    return 2.0 * output.size * float(np.prod(weight[1:])) if weight else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a bench/run.py model name or an .onnx path")
    parser.add_argument("--ops", nargs="+", default=["Conv", "MaxPool", "AveragePool"])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0.25,
                        help="idle seconds before each timed run, as in bench/run.py (spinning threads of one "
                             "runtime slow the other's next run by up to 40x on single operators)")
    args = parser.parse_args()
    import onnxruntime

    path = Path(args.model) if args.model.endswith(".onnx") else model_paths([args.model])[args.model]
    model = onnx.load(str(path))
    shapes = value_shapes(model)
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    rng = np.random.default_rng(0)
    counts: collections.Counter = collections.Counter()
    nodes: dict[tuple, onnx.NodeProto] = {}
    for node in model.graph.node:
        if node.op_type in args.ops and shapes.get(node.input[0]):
            attrs = tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in node.attribute))
            key = (node.op_type, tuple(shapes[node.input[0]]), tuple(tuple(shapes.get(i, ())) for i in node.input[1:]), attrs)
            counts[key] += 1
            nodes.setdefault(key, node)
    ort_options = onnxruntime.SessionOptions()
    rows = []
    for key, node in nodes.items():
        one = single_node_model(node, shapes, initializers, opset, rng).SerializeToString()
        feeds = {node.input[0]: rng.standard_normal(shapes[node.input[0]]).astype(np.float32)}
        mine = onyx.InferenceSession(one)
        theirs = onnxruntime.InferenceSession(one, ort_options, providers=["CPUExecutionProvider"])
        output = theirs.run(None, feeds)[0]
        np.testing.assert_allclose(mine.run(None, feeds)[0], output, rtol=1e-3, atol=1e-3)
        timing = alternate({"onyx": lambda: mine.run(None, feeds), "ort": lambda: theirs.run(None, feeds)},
                           runs=args.runs, settle_s=args.settle)
        rows.append((key, counts[key], timing["onyx"].median * 1e3, timing["ort"].median * 1e3,
                     conv_flops(node, shapes, output)))
    rows.sort(key=lambda r: -r[1] * (r[2] - r[3]))
    print("| nodes | op | input | attributes | onyx ms | ort ms | ratio | onyx GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    for (op, shape, _, attrs), count, mine_ms, ort_ms, flops in rows:
        shown = ", ".join(f"{k}={v}" for k, v in attrs if k not in ("dilations",))
        rate = f"{flops / mine_ms / 1e6:.0f}" if flops else "-"
        print(f"| {count} | {op} | {list(shape)} | {shown} | {mine_ms:.3f} | {ort_ms:.3f} | {mine_ms / ort_ms:.2f} | {rate} |")
    total_mine = sum(r[1] * r[2] for r in rows)
    total_ort = sum(r[1] * r[3] for r in rows)
    print(f"\ntotal over {sum(counts.values())} nodes: onyx {total_mine:.2f} ms, onnxruntime {total_ort:.2f} ms "
          f"(ratio {total_mine / total_ort:.2f})")


if __name__ == "__main__":
    main()
