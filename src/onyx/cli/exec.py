"""onyx exec: run an onnxruntime application on onyx, unchanged."""

from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def exec_(command: tuple[str, ...]) -> None:
    """Run COMMAND with onyx in place of onnxruntime.

    Every Python process COMMAND starts gets onyx when it imports onnxruntime
    (nothing is installed; see docs/compatibility.md).

    \b
    Example:
      onyx exec -- python app.py --image cat.jpg
      onyx exec -- magika README.md
    """
    from onyx.exec import run

    raise SystemExit(run(command))
