"""``onyx exec -- CMD ...`` and ``python -m onyx.exec CMD ...``: run CMD with onyx as onnxruntime.

Every Python process CMD starts (and their children) imports onyx when it imports
onnxruntime: a private folder holding a ``sitecustomize`` is put first on PYTHONPATH
(nothing is installed). ``python -I`` and ``python -S`` skip it. A first argument ending in
``.py`` is run with this interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_exec_site")


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with the onnxruntime-alias folder first on PYTHONPATH."""
    env = dict(os.environ if environ is None else environ)
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != SITE_DIR]
    env["PYTHONPATH"] = os.pathsep.join([SITE_DIR, *existing])
    return env


def command_line(argv: Sequence[str]) -> list[str]:
    """The command to run: ``argv`` without a leading "--"; a script.py is run with this Python."""
    args = list(argv[1:] if argv and argv[0] == "--" else argv)
    if args and args[0].endswith(".py"):
        args.insert(0, sys.executable)
    return args


def run(argv: Sequence[str]) -> int:
    """Run the command with onyx as onnxruntime; returns its exit status (POSIX: replaces this process)."""
    args = command_line(argv)
    if not args:
        sys.stderr.write("usage: onyx exec -- COMMAND [ARGS...]   (e.g. onyx exec -- python app.py)\n")
        return 2
    env = child_environment()
    if os.name == "posix":
        try:
            os.execvpe(args[0], args, env)
        except OSError as exc:
            sys.stderr.write(f"onyx exec: cannot run {args[0]}: {exc.strerror}\n")
            return 127
    return subprocess.call(args, env=env)


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
