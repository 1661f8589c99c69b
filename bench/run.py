"""Benchmark onyx against onnxruntime (and onnx.reference on small models), in one process.

    python bench/run.py                 # every model: onnx's light_* models + bench/.cache/*.onnx
    python bench/run.py --models resnet50 squeezenet --runs 30

For each model: median latency of each runtime over alternating runs after warm-up, the
ratio onyx/onnxruntime, and, each in fresh child processes per runtime, the session-creation
time (after a warm-up session on another model) and peak memory while running (the growth of
its peak RSS over the loaded baseline). In one process, whichever runtime is created second
reuses memory the first one touched and freed, which on these virtual machines made VGG-19's
creation 1.2 s when first and 0.06 s when second.
A last column times onyx with providers=["TorchExecutionProvider", "CPUExecutionProvider"] (the
Torch provider on the CPU) in the same alternation, when torch is installed (--no-torch skips it).
Ends with the geometric mean of the ratios. bench/export_models.py and bench/small_models.py
fill bench/.cache.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))

import onyx  # noqa: E402
from onyx.tools.bench import alternate  # noqa: E402
from onyx.tools.inputs import prepare_feeds  # noqa: E402

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
CACHE_DIR = HERE / ".cache"
WARM_UP_MODEL = HERE.parent / "examples" / "digits" / "digits.onnx"
# onnx.reference takes seconds to minutes per run on the big convolution networks; time it on these only.
REFERENCE_MODELS = {"squeezenet", "shufflenet", "inception_v1", "lstm_2layer", "gru_bidirectional",
                    "random_forest", "gradient_boosting", "svc"}


def model_paths(selected: list[str] | None) -> dict[str, Path]:
    paths = {p.stem.removeprefix("light_"): p for p in sorted(LIGHT_DIR.glob("light_*.onnx"))}
    paths.update({p.stem: p for p in sorted(CACHE_DIR.glob("*.onnx"))})
    if selected:
        missing = [m for m in selected if m not in paths]
        if missing:
            raise SystemExit(f"unknown model(s) {missing}; available: {sorted(paths)}")
        paths = {m: paths[m] for m in selected}
    return paths


THREADS = 0  # intra_op_num_threads of both runtimes' sessions (--threads); 0: each one's default


def model_feeds(session, path: Path) -> dict:
    """The feeds saved beside the model (``NAME.feeds.npz``, bench/small_models.py), else random ones."""
    saved = path.with_suffix(".feeds.npz")
    if saved.exists():
        with np.load(saved) as data:
            return {name: data[name] for name in data.files}
    return prepare_feeds(session.get_inputs(), {}, {})


def make_session(runtime: str, path: Path):
    if runtime == "onyx":
        options = onyx.SessionOptions()
        options.intra_op_num_threads = THREADS
        return onyx.InferenceSession(str(path), options)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timed_creation(runtime: str, path: Path):
    t0 = time.perf_counter()
    session = make_session(runtime, path)
    return session, time.perf_counter() - t0


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM where /proc has it: ru_maxrss survives exec on Linux,
    so a probe started by a big parent would inherit the parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_up(runtime: str) -> None:
    """One-time initialization of a runtime (imports, thread pools), so no model's creation pays
    it. onyx's shape folding calls onnx's shape inference, whose first call builds its operator
    schemas (8 ms, once per process), which the warm-up model alone does not reach."""
    make_session(runtime, WARM_UP_MODEL).run(None, {"image": np.zeros((1, 64), np.float32)})
    if runtime == "onyx":
        onnx.shape_inference.infer_shapes(onnx.load(str(WARM_UP_MODEL)))


def creation_probe(runtime: str, path: Path) -> dict:
    """Child-process entry: the session's creation time (ms), the runtime warmed up before."""
    warm_up(runtime)
    return {"create_ms": timed_creation(runtime, path)[1] * 1e3}


def memory_probe(runtime: str, path: Path) -> dict:
    """Child-process entry: the peak-RSS growth (MB) from creating a session and running it
    (weights, feeds and intermediates); both runtimes are imported before the baseline."""
    import onnxruntime  # noqa: F401 - imported in both probes so the baseline is the same

    baseline = peak_rss_mb()
    session = make_session(runtime, path)
    feeds = model_feeds(session, path)
    for _ in range(3):
        session.run(None, feeds)
    return {"peak_mb": peak_rss_mb() - baseline}


PROBES = {"creation": creation_probe, "memory": memory_probe}


def in_fresh_process(probe: str, runtime: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", probe, runtime, str(path)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_session(path: Path):
    """An onyx session whose nodes the Torch provider (on the CPU) runs, or None without torch."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("torch") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nodes it leaves to the CPU provider are fine here
        return onyx.InferenceSession(str(path), providers=["TorchExecutionProvider", "CPUExecutionProvider"])


def bench_model(name: str, path: Path, runs: int, warmup: int, with_probes: bool, with_reference: bool,
                settle_s: float, with_torch: bool = True) -> dict:
    fresh = {}
    if with_probes:  # first, while this process is idle: its spinning threads would slow the children
        time.sleep(settle_s)
        for runtime, key in (("onyx", "onyx"), ("onnxruntime", "ort")):
            fresh[f"{key}_create_ms"] = in_fresh_process("creation", runtime, path)["create_ms"]
            fresh[f"{key}_mb"] = in_fresh_process("memory", runtime, path)["peak_mb"]
    onyx_sess, onyx_create = timed_creation("onyx", path)
    ort_sess, ort_create = timed_creation("onnxruntime", path)
    feeds = model_feeds(onyx_sess, path)
    theirs = ort_sess.run(None, feeds)
    check_agreement(name, onyx_sess.run(None, feeds), theirs)
    contenders = {"onyx": lambda: onyx_sess.run(None, feeds), "onnxruntime": lambda: ort_sess.run(None, feeds)}
    torch_sess = torch_session(path) if with_torch else None
    if torch_sess is not None:
        check_agreement(f"{name} (Torch provider)", torch_sess.run(None, feeds), theirs)
        contenders["onyx-torch"] = lambda: torch_sess.run(None, feeds)
    timings = alternate(contenders, warmup=warmup, runs=runs, settle_s=settle_s)
    row = {
        "model": name,
        "onyx_ms": timings["onyx"].median * 1e3,
        "ort_ms": timings["onnxruntime"].median * 1e3,
        "onyx_create_ms": onyx_create * 1e3,
        "ort_create_ms": ort_create * 1e3,
    }
    row["ratio"] = row["onyx_ms"] / row["ort_ms"]
    if "onyx-torch" in timings:
        row["torch_ms"] = timings["onyx-torch"].median * 1e3
    row.update(fresh)
    if with_reference and name in REFERENCE_MODELS:
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(str(path))
        ref_timing = alternate({"reference": lambda: ref.run(None, feeds)}, warmup=1, runs=3)["reference"]
        row["reference_ms"] = ref_timing.median * 1e3
    return row


def check_agreement(name: str, ours: list, theirs: list) -> None:
    """Warn (not fail) when outputs differ by more than 1e-4 relative: a benchmark of wrong answers is worthless."""
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            scale = max(float(np.max(np.abs(b))), 1e-6) if b.size else 1.0
            err = float(np.max(np.abs(a.astype(np.float64) - b))) / scale if a.size else 0.0
            if err > 1e-4:
                print(f"warning: {name} output {i} differs from onnxruntime by {err:.2e} (relative to max)", file=sys.stderr)


def machine_line() -> str:
    """What the numbers were measured on: CPU, cores, versions and the BLAS kernel NumPy runs."""
    import platform

    import onnxruntime
    from threadpoolctl import threadpool_info

    blas = next((f"{i['internal_api']} {i.get('architecture', '?')} x{i['num_threads']}"
                 for i in threadpool_info() if i["user_api"] == "blas"), "unknown BLAS")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__} ({blas}), "
            f"onnxruntime {onnxruntime.__version__}, onyx {onyx.__version__}")


def print_table(rows: list[dict]) -> None:
    print(machine_line() + "\n")
    cols = ["model", "onyx ms", "ort ms", "ratio", "onyx create ms", "ort create ms", "onyx MB", "ort MB", "reference ms",
            "Torch provider ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        cells = [r["model"], f"{r['onyx_ms']:.2f}", f"{r['ort_ms']:.2f}", f"{r['ratio']:.2f}",
                 f"{r['onyx_create_ms']:.0f}", f"{r['ort_create_ms']:.0f}",
                 f"{r['onyx_mb']:.0f}" if "onyx_mb" in r else "-", f"{r['ort_mb']:.0f}" if "ort_mb" in r else "-",
                 f"{r['reference_ms']:.0f}" if "reference_ms" in r else "-",
                 f"{r['torch_ms']:.2f}" if "torch_ms" in r else "-"]
        print("| " + " | ".join(cells) + " |")
    ratios = [r["ratio"] for r in rows]
    print(f"\ngeometric mean onyx/onnxruntime latency: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f} "
          f"(worst: {max(rows, key=lambda r: r['ratio'])['model']} {max(ratios):.2f})")
    ref_rows = [r for r in rows if "reference_ms" in r]
    if ref_rows:
        speedups = [r["reference_ms"] / r["onyx_ms"] for r in ref_rows]
        print(f"geometric mean speed-up over onnx.reference: {math.exp(sum(map(math.log, speedups)) / len(speedups)):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="model names (default: all)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--settle", type=float, default=0.25,
                        help="idle seconds before each timed run, so that both runtimes' spin-waiting threads "
                             "(onnxruntime's pool, OpenBLAS's workers) have gone to sleep; untimed runs of the "
                             "same runtime follow the pause for 0.1 s (default 0.25)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the fresh child processes: no peak memory, and creation times measured in "
                             "this process, where the runtime created second reuses the first one's memory")
    parser.add_argument("--no-reference", action="store_true", help="skip onnx.reference")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra_op_num_threads of both runtimes (default 0: each one's own choice); 1 measures "
                             "the kernels alone on a machine that other processes keep busy")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the Torch provider's column (onyx with providers=[TorchExecutionProvider, CPU])")
    parser.add_argument("--probe", nargs=3, metavar=("KIND", "RUNTIME", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    if args.probe:
        kind, runtime, model = args.probe
        print(json.dumps(PROBES[kind](runtime, Path(model))))
        return
    for runtime in ("onyx", "onnxruntime"):
        warm_up(runtime)
    rows = []
    for name, path in model_paths(args.models).items():
        print(f"... {name}", file=sys.stderr, flush=True)
        rows.append(bench_model(name, path, args.runs, args.warmup, not args.no_memory, not args.no_reference,
                                args.settle, not args.no_torch))
    print_table(rows)


if __name__ == "__main__":
    main()
