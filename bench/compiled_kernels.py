"""The compiled kernels ([fast], Numba) against onyx's NumPy kernels and onnxruntime, in one process.

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/compiled_kernels.py [--models lstm_2layer forest]
        [--runs 30] [--threads 1] [--cpu]

Each model runs in three sessions: onyx with ``session.onyx.compiled_kernels`` = "0" (NumPy),
onyx with "1" (compiled) and onnxruntime; runs alternate (onyx.tools.bench.alternate) and the
medians are printed with the ratios to onnxruntime. ``--cpu`` times each run by the process's
CPU time instead (mean; with ``--threads 1``): on a machine crowded with other processes, wall
time punishes the longer runs, which the scheduler preempts more often. The models are built
here: the recurrent ones as bench/export_models.py's (a 2-layer LSTM 128 -> 256 and a
bidirectional GRU 128 -> 256 over 64 steps), written directly as ONNX nodes; small-hidden
variants of both (batch 16, hidden 32); a bidirectional LSTM over sequences of different lengths
(sequence_lens); a 100-tree random forest (scikit-learn, skl2onnx) over 2,000 rows of 20
features; a MobileNetV2-like CNN (depthwise 3x3 convolutions, 224x224).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

import onyx  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402


def recurrent(op_type: str, layers: int, direction: str, seq: int, batch: int, inp: int, hidden: int,
              lens: list[int] | None = None):
    """Stacked recurrent layers (weights random, float32); X [seq, batch, inp] -> the last Y;
    ``lens``: the sequence_lens of every layer."""
    rng = np.random.default_rng(0)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op_type]
    num_dir = 2 if direction == "bidirectional" else 1
    nodes, inits, x, size = [], [], "X", inp
    for layer in range(layers):
        scale = 1 / np.sqrt(hidden)
        names = [f"W{layer}", f"R{layer}", f"B{layer}"]
        shapes = [(num_dir, gates * hidden, size), (num_dir, gates * hidden, hidden), (num_dir, 2 * gates * hidden)]
        inits += [numpy_helper.from_array(rng.uniform(-scale, scale, s).astype(np.float32), n)
                  for n, s in zip(names, shapes)]
        lens_input = ["lens"] if lens else []
        nodes.append(helper.make_node(op_type, [x, *names, *lens_input], [f"Y{layer}"], hidden_size=hidden,
                                      direction=direction))
        # [seq, dir, batch, hidden] -> [seq, batch, dir * hidden]
        nodes.append(helper.make_node("Transpose", [f"Y{layer}"], [f"T{layer}"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"T{layer}", "shape"], [f"X{layer + 1}"]))
        x, size = f"X{layer + 1}", num_dir * hidden
    inits.append(numpy_helper.from_array(np.array([seq, batch, -1], np.int64), "shape"))
    if lens:
        inits.append(numpy_helper.from_array(np.array(lens, np.int32), "lens"))
    graph = helper.make_graph(nodes, op_type.lower(), [helper.make_tensor_value_info("X", TensorProto.FLOAT,
                                                                                     [seq, batch, inp])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"X": rng.standard_normal((seq, batch, inp)).astype(np.float32)}
    return model.SerializeToString(), feeds


def forest():
    """bench/export_models.py's random_forest: 100 trees, 2,000 rows."""
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(n_samples=2000, n_features=20, n_informative=10, random_state=0)
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    onx = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    return onx.SerializeToString(), {"X": x.astype(np.float32)}


def mobile_cnn():
    """A MobileNetV2-like network at 224x224: a strided 3x3 stem, then inverted residual blocks
    (1x1 expansion, Clip, depthwise 3x3, Clip, 1x1 projection, residual Add where shapes allow)."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []

    def weight(name: str, *shape: int) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:])))
                                             .astype(np.float32), name))
        return name

    def conv(x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1, group: int = 1,
             clip: bool = True) -> str:
        w, b = weight(f"{name}_w", c_out, c_in // group, k, k), weight(f"{name}_b", c_out)
        nodes.append(helper.make_node("Conv", [x, w, b], [f"{name}_y"], group=group, strides=[stride] * 2,
                                      pads=[k // 2] * 4))
        if not clip:
            return f"{name}_y"
        nodes.append(helper.make_node("Clip", [f"{name}_y", "zero", "six"], [f"{name}_r"]))
        return f"{name}_r"

    inits += [numpy_helper.from_array(np.float32(0), "zero"), numpy_helper.from_array(np.float32(6), "six")]
    x, channels = conv("X", "stem", 3, 32, 3, 2), 32
    # (expansion, output channels, repeats, first stride), MobileNetV2's first stages
    for stage, (t, c, n, s) in enumerate([(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 2)]):
        for i in range(n):
            name, hidden = f"s{stage}b{i}", channels * t
            y = conv(x, f"{name}_expand", channels, hidden, 1) if t != 1 else x
            y = conv(y, f"{name}_dw", hidden, hidden, 3, s if i == 0 else 1, group=hidden)
            y = conv(y, f"{name}_project", hidden, c, 1, clip=False)
            if i > 0:
                nodes.append(helper.make_node("Add", [x, y], [f"{name}_sum"]))
                y = f"{name}_sum"
            x, channels = y, c
    graph = helper.make_graph(nodes, "mobile", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString(), {"X": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}


MODELS = {
    "lstm_2layer": lambda: recurrent("LSTM", 2, "forward", 64, 1, 128, 256),
    "gru_bidirectional": lambda: recurrent("GRU", 1, "bidirectional", 64, 1, 128, 256),
    "lstm_small": lambda: recurrent("LSTM", 2, "forward", 64, 16, 32, 32),
    "gru_small": lambda: recurrent("GRU", 1, "bidirectional", 64, 16, 32, 32),
    "lstm_masked": lambda: recurrent("LSTM", 1, "bidirectional", 64, 4, 64, 128, lens=[64, 50, 30, 10]),
    "forest": forest,
    "mobile_cnn": mobile_cnn,
}


def onyx_session(model: bytes, compiled: bool, threads: int) -> onyx.InferenceSession:
    options = onyx.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.onyx.compiled_kernels", "1" if compiled else "0")
    return onyx.InferenceSession(model, options)


def ort_session(model: bytes, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def cpu_ms(runners: dict, runs: int) -> dict[str, float]:
    """Mean CPU time (ms) of each runner over ``runs`` alternating runs, after three warm-up runs."""
    totals = dict.fromkeys(runners, 0.0)
    for i in range(3 + runs):
        for key, run in runners.items():
            start = time.process_time()
            run()
            totals[key] += (time.process_time() - start) if i >= 3 else 0.0
    return {key: total / runs * 1e3 for key, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="intra_op_num_threads of every session (0: all)")
    parser.add_argument("--cpu", action="store_true", help="mean CPU time per run instead of median wall time")
    args = parser.parse_args()

    print(f"{'model':<20} {'numpy ms':>9} {'numba ms':>9} {'ort ms':>8} {'numpy/ort':>10} {'numba/ort':>10}")
    for name in args.models:
        model, feeds = MODELS[name]()
        sessions = {"numpy": onyx_session(model, False, args.threads), "numba": onyx_session(model, True, args.threads),
                    "ort": ort_session(model, args.threads)}
        results = {key: s.run(None, feeds) for key, s in sessions.items()}
        for key in ("numpy", "numba"):
            for got, want in zip(results[key], results["ort"]):
                if want.dtype.kind == "f":
                    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=f"{name} {key}")
        runners = {key: (lambda s=s: s.run(None, feeds)) for key, s in sessions.items()}
        if args.cpu:
            ms = cpu_ms(runners, args.runs)
        else:
            ms = {key: t.median * 1e3 for key, t in alternate(runners, warmup=3, runs=args.runs).items()}
        print(f"{name:<20} {ms['numpy']:>9.3f} {ms['numba']:>9.3f} {ms['ort']:>8.3f} "
              f"{ms['numpy'] / ms['ort']:>10.2f} {ms['numba'] / ms['ort']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
