"""Two onyx source trees against each other on the same models, runs alternating between them.

    git worktree add /tmp/onyx-old <commit>
    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= python bench/ab.py /tmp/onyx-old/src src \\
        [--models vgg19 resnet50] [--runs 20] [--set NAME=VALUE ...] [--old-set ...] [--new-set ...]
    python bench/ab.py src src --models inception_v1 --new-set execution_mode=1 inter_op_num_threads=2

Each tree runs in a worker process of its own (its ``src`` first on sys.path); the parent
makes them take turns, one timed run at a time, as bench/run.py alternates runtimes
(an idle pause of ``--settle`` seconds, untimed runs for 0.1 s, then the timed run), so both
see the same machine noise. The table gives the medians and the ratio new/old per model
(below 1: the second tree is faster), then their geometric mean. The two trees' outputs are
compared first (a warning where they differ beyond rtol 1e-4). ``--set`` applies to both
sessions, ``--old-set``/``--new-set`` to one: a NAME with a dot is a session config entry
(``session.onyx.compiled_kernels=0``), any other an integer SessionOptions attribute
(``intra_op_num_threads=1``, ``execution_mode=1``), so one tree can be compared with itself
under other options. Models as bench/run.py names them. Mind process-wide defaults that
changed between the trees (docs/benchmark.md: malloc tuning).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REWARM_S = 0.1


def worker(src: str, model: str, feeds_path: str, settings: str) -> None:
    """Child process: a session of ``src``'s onyx on ``model`` fed the arrays of ``feeds_path``
    (.npz); answers the parent's commands on stdin: ``outputs PATH`` (saves the outputs as
    .npz), ``time`` (the seconds of one timed run after untimed ones for REWARM_S), ``quit``."""
    sys.path.insert(0, src)
    import onyx

    options = onyx.SessionOptions()
    for key, value in json.loads(settings).items():
        if "." in key:
            options.add_session_config_entry(key, value)
        else:
            setattr(options, key, int(value))
    session = onyx.InferenceSession(model, options)
    with np.load(feeds_path) as data:
        feeds = {name: data[name] for name in data.files}
    print("ready", flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "outputs":
            np.savez(rest[0], *session.run(None, feeds))
            print("done", flush=True)
        elif command == "time":
            until = time.perf_counter() + REWARM_S
            session.run(None, feeds)
            while time.perf_counter() < until:
                session.run(None, feeds)
            t0 = time.perf_counter()
            session.run(None, feeds)
            print(time.perf_counter() - t0, flush=True)
        else:
            return


class Worker:
    def __init__(self, src: Path, model: Path, feeds: Path, settings: dict):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(src), str(model), str(feeds), json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ask(None)

    def ask(self, command: str | None) -> str:
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit(f"worker {self.process.args[3]} failed")
        return answer.strip()

    def outputs(self) -> list[np.ndarray]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "out.npz"
            self.ask(f"outputs {path}")
            with np.load(path) as data:
                return [data[k] for k in data.files]

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait()


def compare(model: Path, old: Path, new: Path, settings: dict, args) -> float:
    import onyx
    from run import model_feeds  # bench/run.py: the feeds saved beside a model, else random ones

    folder = tempfile.TemporaryDirectory()
    feeds = Path(folder.name) / "feeds.npz"
    np.savez(feeds, **model_feeds(onyx.InferenceSession(str(model)), model))
    workers = {"old": Worker(old, model, feeds, settings["old"])}
    try:
        workers["new"] = Worker(new, model, feeds, settings["new"])
        for got, want in zip(workers["new"].outputs(), workers["old"].outputs()):
            scale = float(np.abs(want).max(initial=1.0))
            if not np.allclose(got, want, rtol=1e-4, atol=1e-5 * scale):  # ill-conditioned models differ in last bits
                print(f"warning: {model.stem} outputs differ by {float(np.abs(got - want).max()) / scale:.2e} "
                      "(relative to max)", file=sys.stderr)
        for worker_ in workers.values():
            for _ in range(args.warmup):
                worker_.ask("time")
        samples = {key: [] for key in workers}
        for _ in range(args.runs):
            for key, worker_ in workers.items():
                time.sleep(args.settle)
                samples[key].append(float(worker_.ask("time")))
    finally:
        for worker_ in workers.values():
            worker_.close()
        folder.cleanup()
    old_ms, new_ms = (statistics.median(samples[k]) * 1e3 for k in ("old", "new"))
    print(f"{model.stem.removeprefix('light_'):<22} {old_ms:>9.2f} {new_ms:>9.2f} {new_ms / old_ms:>8.3f}",
          flush=True)
    return new_ms / old_ms


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="the first tree's src folder")
    parser.add_argument("new", type=Path, help="the second tree's src folder")
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--settle", type=float, default=0.25, help="idle seconds before each timed run")
    for which in ("set", "old-set", "new-set"):
        parser.add_argument(f"--{which}", nargs="*", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    both = dict(item.split("=", 1) for item in args.set)
    settings = {key: {**both, **dict(item.split("=", 1) for item in getattr(args, f"{key}_set"))}
                for key in ("old", "new")}
    sys.path.insert(0, str(HERE))
    from run import model_paths

    print(f"{'model':<22} {'old ms':>9} {'new ms':>9} {'new/old':>8}")
    ratios = [compare(path, args.old.resolve(), args.new.resolve(), settings, args)
              for path in model_paths(args.models).values()]
    print(f"\ngeometric mean new/old: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.3f}")


if __name__ == "__main__":
    main()
