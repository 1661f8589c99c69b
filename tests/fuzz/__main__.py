"""python -m tests.fuzz --cases 10000 [--seed N] [--timeout S] [--keep DIR]: a long fuzz run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests folder: seed model builders

from tests.fuzz import run_campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz onyx with mutated and generated models.")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a case may take")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="folder for failing cases")
    args = parser.parse_args()
    started = time.monotonic()
    report = run_campaign(args.cases, args.seed, args.timeout, args.keep, progress_every=500)
    print(report.summary())
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
