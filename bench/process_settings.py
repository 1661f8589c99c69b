"""What onyx's process-wide opt-ins buy: session creation and run latency with each off and on.

    python bench/process_settings.py --models squeezenet resnet50 vgg19 --rounds 5

onyx changes no process-wide setting unless a session opts in (onyx.options:
PROCESS_MALLOC_TUNING, PROCESS_REGULAR_PAGES). glibc's malloc tuning cannot be undone inside
a process, so each variant runs in its own fresh child process, the variants alternating
round after round; the table gives medians over rounds of the creation time and of the
median run latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import onyx  # noqa: E402
from onyx.options import PROCESS_MALLOC_TUNING, PROCESS_REGULAR_PAGES  # noqa: E402
from onyx.tools.inputs import prepare_feeds  # noqa: E402
from run import WARM_UP_MODEL, model_paths  # noqa: E402

VARIANTS = {"default": [], "malloc": [PROCESS_MALLOC_TUNING], "pages": [PROCESS_REGULAR_PAGES],
            "both": [PROCESS_MALLOC_TUNING, PROCESS_REGULAR_PAGES]}


def probe(variant: str, path: str, runs: int) -> dict:
    """In this (fresh) process: creation seconds and median run milliseconds of one variant."""
    options = onyx.SessionOptions()
    for key in VARIANTS[variant]:
        options.add_session_config_entry(key, "1")
    onyx.InferenceSession(str(WARM_UP_MODEL), options).run(None, {"image": np.zeros((1, 64), np.float32)})
    started = time.perf_counter()
    session = onyx.InferenceSession(path, options)
    created = time.perf_counter() - started
    feeds = prepare_feeds(session.get_inputs(), {}, {}, seed=0)
    for _ in range(3):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - started)
    return {"create_s": created, "run_ms": statistics.median(times) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="model names (default: all)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--probe", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe[0], args.probe[1], args.runs)))
        return
    print(f"{'model':16} {'variant':8} {'create s':>9} {'run ms':>9}")
    for name, path in model_paths(args.models).items():
        results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                out = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--probe", variant, str(path)],
                                     capture_output=True, text=True, check=True)
                results[variant].append(json.loads(out.stdout))
        for variant, rows in results.items():
            print(f"{name:16} {variant:8} {statistics.median(r['create_s'] for r in rows):9.3f} "
                  f"{statistics.median(r['run_ms'] for r in rows):9.2f}", flush=True)


if __name__ == "__main__":
    main()
