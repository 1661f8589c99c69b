"""Benchmark onyx against onnxruntime (and onnx.reference on small models), in one process.

    python bench/run.py                 # every model: onnx's light_* models + bench/.cache/*.onnx
    python bench/run.py --models resnet50 squeezenet --runs 30
    python bench/run.py --kernels both  # onyx with NumPy kernels and with compiled ones ([fast])

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

``--kernels`` chooses onyx's kernels: ``numpy`` (session config entry
session.onyx.compiled_kernels=0, what an install without the [fast] extra runs), ``compiled``
(=1, the [fast] extra) or ``both`` (the default where Numba is installed: two onyx columns, the
three sessions alternating). For the compiled kernels the creation probe runs twice in fresh
processes sharing an empty compiled-code cache: cold (compiling), then warm (loading the cache;
both include importing Numba, which the first such session of a process pays).
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
from onyx.compiled import CACHE_ENV, COMPILED_KERNELS_KEY, installed  # noqa: E402
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


# onyx's runtimes by kernel set: the session config value of COMPILED_KERNELS_KEY
ONYX_KERNELS = {"onyx": "0", "onyx-fast": "1"}


def make_session(runtime: str, path: Path):
    if runtime in ONYX_KERNELS:
        options = onyx.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.add_session_config_entry(COMPILED_KERNELS_KEY, ONYX_KERNELS[runtime])
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
    if runtime in ONYX_KERNELS:
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


def in_fresh_process(probe: str, runtime: str, path: Path, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", probe, runtime, str(path)],
        capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_session(path: Path):
    """An onyx session whose nodes the Torch provider (on the CPU) runs, or None without torch
    (or where creating it fails, which is reported)."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("torch") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nodes it leaves to the CPU provider are fine here
        try:
            return onyx.InferenceSession(str(path), providers=["TorchExecutionProvider", "CPUExecutionProvider"])
        except onyx.OnyxError as exc:
            print(f"warning: {path.stem}: no Torch provider session: {exc}", file=sys.stderr)
            return None


def compiled_creation(path: Path) -> dict:
    """Creation (ms) with compiled kernels in fresh processes: cold (an empty compiled-code
    cache), then warm (the cache the cold one filled)."""
    import shutil
    import tempfile

    cache = tempfile.mkdtemp(prefix="onyx-bench-cache-")
    try:
        cold = in_fresh_process("creation", "onyx-fast", path, {CACHE_ENV: cache})["create_ms"]
        warm = in_fresh_process("creation", "onyx-fast", path, {CACHE_ENV: cache})["create_ms"]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {"fast_cold_create_ms": cold, "fast_warm_create_ms": warm}


def bench_model(name: str, path: Path, runs: int, warmup: int, with_probes: bool, with_reference: bool,
                settle_s: float, kernels: str = "numpy", with_torch: bool = True) -> dict:
    onyx_runtimes = {"numpy": ["onyx"], "compiled": ["onyx-fast"], "both": ["onyx", "onyx-fast"]}[kernels]
    fresh = {}
    if with_probes:  # first, while this process is idle: its spinning threads would slow the children
        time.sleep(settle_s)
        for runtime, key in ((onyx_runtimes[0], "onyx"), ("onnxruntime", "ort")):
            fresh[f"{key}_create_ms"] = in_fresh_process("creation", runtime, path)["create_ms"]
            fresh[f"{key}_mb"] = in_fresh_process("memory", runtime, path)["peak_mb"]
        if "onyx-fast" in onyx_runtimes:
            fresh.update(compiled_creation(path))
    sessions, created = {}, {}
    for runtime in [*onyx_runtimes, "onnxruntime"]:
        sessions[runtime], created[runtime] = timed_creation(runtime, path)
    feeds = model_feeds(sessions[onyx_runtimes[0]], path)
    expected = sessions["onnxruntime"].run(None, feeds)
    for runtime in onyx_runtimes:
        check_agreement(f"{name} ({runtime})", sessions[runtime].run(None, feeds), expected)
    torch_sess = torch_session(path) if with_torch else None
    if torch_sess is not None:
        try:
            check_agreement(f"{name} (Torch provider)", torch_sess.run(None, feeds), expected)
            sessions["onyx-torch"] = torch_sess
        except onyx.OnyxError as exc:  # reported in the table as "-", the run goes on
            print(f"warning: {name} failed on the Torch provider: {exc}", file=sys.stderr)
    timings = alternate({runtime: (lambda s=session: s.run(None, feeds)) for runtime, session in sessions.items()},
                        warmup=warmup, runs=runs, settle_s=settle_s)
    key = {"onyx": "onyx", "onyx-fast": "fast"}
    row = {"model": name, "ort_ms": timings["onnxruntime"].median * 1e3, "ort_create_ms": created["onnxruntime"] * 1e3,
           "onyx_create_ms": created[onyx_runtimes[0]] * 1e3}
    for runtime in onyx_runtimes:
        row[f"{key[runtime]}_ms"] = timings[runtime].median * 1e3
        row[f"{key[runtime]}_ratio"] = row[f"{key[runtime]}_ms"] / row["ort_ms"]
    first = key[onyx_runtimes[0]]
    row["onyx_ms"], row["ratio"] = row[f"{first}_ms"], row[f"{first}_ratio"]
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


def _cell(row: dict, key: str, digits: int) -> str:
    return f"{row[key]:.{digits}f}" if key in row else "-"


def print_table(rows: list[dict]) -> None:
    print(machine_line() + "\n")
    both = "fast_ms" in rows[0] and "onyx_ms" in rows[0] and rows[0].get("onyx_ratio") is not None
    columns = [("model", "model", 0), ("onyx ms", "onyx_ms", 2)]
    if both:
        columns += [("[fast] ms", "fast_ms", 2)]
    columns += [("ort ms", "ort_ms", 2), ("ratio", "onyx_ratio" if both else "ratio", 2)]
    if both:
        columns += [("[fast] ratio", "fast_ratio", 2)]
    columns += [("onyx create ms", "onyx_create_ms", 0), ("[fast] cold create ms", "fast_cold_create_ms", 0),
                ("[fast] warm create ms", "fast_warm_create_ms", 0), ("ort create ms", "ort_create_ms", 0),
                ("onyx MB", "onyx_mb", 0), ("ort MB", "ort_mb", 0), ("reference ms", "reference_ms", 0),
                ("Torch provider ms", "torch_ms", 2)]
    columns = [c for c in columns if any(c[1] in r for r in rows)]
    print("| " + " | ".join(c[0] for c in columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        print("| " + " | ".join(r["model"] if k == "model" else _cell(r, k, d) for _, k, d in columns) + " |")
    for label, key in (("onyx", "onyx_ratio" if both else "ratio"), ("onyx [fast]", "fast_ratio" if both else None)):
        if key is None:
            continue
        ratios = [r[key] for r in rows]
        worst = max(rows, key=lambda r: r[key])
        print(f"\ngeometric mean {label}/onnxruntime latency: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f} "
              f"(worst: {worst['model']} {worst[key]:.2f})")
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
    parser.add_argument("--kernels", choices=["numpy", "compiled", "both"], default="both" if installed() else "numpy",
                        help="onyx's kernels: NumPy only, compiled ([fast], Numba), or both as two columns "
                             "(default: both where Numba is installed)")
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
                                args.settle, args.kernels, not args.no_torch))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # each row as it comes, for long runs
    print_table(rows)


if __name__ == "__main__":
    main()
