"""onyx's fuzzer: hostile and malformed models thrown at InferenceSession in a child process.

    python -m tests.fuzz --cases 10000 --seed 1      # a long run, from the repository root
    pytest tests/test_fuzz.py                        # the short run CI makes (300 cases, seed 0)

Cases (tests/fuzz/cases.py, hypothesis strategies) are seed models with bytes overwritten or
cut, seed models with structural edits (nodes, attributes, tensors, types, opsets, external
data aimed outside the model's folder), and generated operator chains. Each case is loaded
and run in one worker process (tests/fuzz/worker.py), restarted after a crash or a hang.

Invariants: only OnyxError subclasses escape; no case hangs (per-case time limit) or kills the
process; no file inside the fuzz folder but outside the model's folder is opened; feeds are
never modified; outputs share memory with no other output or feed.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import select
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

from .cases import Case, fuzz_cases

TESTS = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 300  # a worker's imports on a loaded machine; not counted in a case's time


class Worker:
    """The child process running cases; started again after it dies or hangs."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        code = f"import sys; sys.path[:0] = [{str(TESTS)!r}]; from fuzz.worker import main; main()"
        process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env, cwd=TESTS.parent)
        if self._receive(process, STARTUP_TIMEOUT_S) != "ready":  # imports are not a case's time
            process.kill()
            raise RuntimeError(f"the fuzz worker did not start within {STARTUP_TIMEOUT_S} s")
        return process

    @staticmethod
    def _receive(process: subprocess.Popen, timeout_s: float):
        """The worker's next message, or None when it sends none in time or dies."""
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        header = process.stdout.read(8) if ready else b""
        return pickle.loads(process.stdout.read(struct.unpack("<Q", header)[0])) if len(header) == 8 else None

    def run(self, case: Case) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        message = pickle.dumps(dataclasses.asdict(case))
        try:
            self.process.stdin.write(struct.pack("<Q", len(message)) + message)
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        verdict = self._receive(self.process, self.timeout_s)
        if verdict is not None:
            return verdict
        try:
            code = self.process.wait(timeout=5)  # it died (its output closed), or it is still busy
        except subprocess.TimeoutExpired:
            self.close()
            return {"outcome": "timeout", "problem": f"no verdict within {self.timeout_s:.0f} s (a hang)"}
        self.process = None
        return {"outcome": "crash", "problem": f"the worker died (exit status {code})"}

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class Report:
    """Counts of outcomes and the cases that broke an invariant."""

    outcomes: collections.Counter = field(default_factory=collections.Counter)
    failures: list[tuple[Case, dict]] = field(default_factory=list)

    def add(self, case: Case, verdict: dict) -> None:
        self.outcomes[verdict["outcome"]] += 1
        if verdict.get("problem"):
            self.failures.append((case, verdict))

    def summary(self) -> str:
        lines = [f"{sum(self.outcomes.values())} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())),
                 f"{len(self.failures)} broke an invariant"]
        for case, verdict in self.failures[:20]:
            lines.append(f"- {verdict['problem']}\n    case: {case.description[:300]}")
        return "\n".join(lines)


def run_campaign(cases: int, seed_value: int = 0, timeout_s: float = 20.0, keep: Path | None = None,
                 progress_every: int = 0) -> Report:
    """Run ``cases`` cases drawn with ``seed_value``; failing cases are saved under ``keep``;
    with ``progress_every``, the counts so far go to stderr every that many cases."""
    report = Report()
    worker = Worker(timeout_s)

    @settings(max_examples=cases, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(seed_value)
    @given(fuzz_cases())
    def one_case(case: Case) -> None:
        verdict = worker.run(case)
        report.add(case, verdict)
        if progress_every and sum(report.outcomes.values()) % progress_every == 0:
            print(report.summary().split("\n")[0], file=sys.stderr, flush=True)
        if verdict.get("problem") and keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            number = len(report.failures)
            (keep / f"failure_{number}.pickle").write_bytes(pickle.dumps((dataclasses.asdict(case), verdict)))

    try:
        one_case()
    finally:
        worker.close()
    return report
