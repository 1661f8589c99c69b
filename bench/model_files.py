"""Session creation time and memory for a large single-file model, in fresh processes.

    python bench/model_files.py                       # onyx (this tree) and onnxruntime
    python bench/model_files.py --compare OLD/src     # also another onyx source tree, alternating

The model is VGG-19 with its weights made real (548 MB): onnx's light_vgg19 builds its weights
with ConstantOfShape, which this script turns into random initializers once, into
bench/.cache/vgg19_full.onnx. Each round starts one fresh process per runtime, in alternating
order, and reports the creation time, the peak-RSS growth over the imported baseline after
creation and after the first run, and the resident set after the run (medians over rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
MODEL = CACHE / "vgg19_full.onnx"


def make_model() -> Path:
    """VGG-19 with random weights in place of light_vgg19's ConstantOfShape nodes."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    if MODEL.exists():
        return MODEL
    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_vgg19.onnx"
    model = onnx.load(str(light))
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    rng = np.random.default_rng(0)
    kept = []
    for node in model.graph.node:
        if node.op_type != "ConstantOfShape":
            kept.append(node)
            continue
        shape = tuple(int(d) for d in shapes[node.input[0]])
        weights = (rng.standard_normal(shape, dtype=np.float32) * 0.01).astype(np.float32)
        model.graph.initializer.append(numpy_helper.from_array(weights, node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    weights = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(weights)
    inputs = [v for v in model.graph.input if v.name in used and v.name not in {t.name for t in weights}]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    CACHE.mkdir(exist_ok=True)
    onnx.save(model, str(MODEL))
    return MODEL


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def probe(runtime: str, path: str) -> dict:
    """Child process: create a session on ``path`` and run it once."""
    import numpy as np
    import onnxruntime

    if runtime == "onnxruntime":
        make = lambda: onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])  # noqa: E731
    else:
        import onyx

        make = lambda: onyx.InferenceSession(path)  # noqa: E731
    base = rss_mb("VmHWM")
    started = time.perf_counter()
    session = make()
    create_s = time.perf_counter() - started
    after_create = rss_mb("VmHWM") - base
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    session.run(None, {session.get_inputs()[0].name: x})
    return {"create_ms": create_s * 1e3, "peak_after_create_mb": after_create,
            "peak_after_run_mb": rss_mb("VmHWM") - base, "rss_after_run_mb": rss_mb("VmRSS") - base}


def in_fresh_process(runtime: str, src: str | None) -> dict:
    env_path = [src] if src else []
    code = (f"import sys; sys.path[:0] = {env_path!r}; sys.path.insert(0, {str(HERE)!r}); import json, model_files; "
            f"print(json.dumps(model_files.probe({runtime!r}, {str(MODEL)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", help="another onyx src/ folder, measured as 'onyx (other)'")
    args = parser.parse_args()
    make_model()
    variants = {"onyx": (str(HERE.parent / "src"), "onyx")}
    if args.compare:
        variants["onyx (other)"] = (args.compare, "onyx")
    variants["onnxruntime"] = (None, "onnxruntime")
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for i in range(args.rounds):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in order:
            src, runtime = variants[name]
            results[name].append(in_fresh_process(runtime, src))
    print(f"{MODEL.name} ({MODEL.stat().st_size / 2**20:.0f} MiB), medians of {args.rounds} fresh processes")
    keys = ["create_ms", "peak_after_create_mb", "peak_after_run_mb", "rss_after_run_mb"]
    print(f"{'runtime':14s}" + "".join(f"{k:>22s}" for k in keys))
    for name, rows in results.items():
        print(f"{name:14s}" + "".join(f"{statistics.median(r[k] for r in rows):22.1f}" for k in keys))


if __name__ == "__main__":
    main()
