"""The ``onyx`` command line. Exit codes: 0 success, 2 user error (bad model, input or
option), 1 internal error. Errors print one line; --debug shows the traceback."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click
import numpy as np

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


class OnyxGroup(click.Group):
    """Turns exceptions into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        from onyx.errors import OnyxError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except OnyxError as exc:
            self._fail(ctx, f"error: {exc}", EXIT_USER_ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            self._fail(ctx, f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL_ERROR)

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int) -> None:
        if ctx.obj and ctx.obj.get("debug"):
            traceback.print_exc()
        else:
            message += " (run with --debug for the traceback)" if code == EXIT_INTERNAL_ERROR else ""
        click.echo(f"onyx: {message}", err=True)
        ctx.exit(code)


@click.group(cls=OnyxGroup)
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="onyx-runtime", prog_name="onyx")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """onyx: run and inspect ONNX models."""
    ctx.obj = {"debug": debug}


def _preview(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value.reshape(-1)[:8], precision=4, separator=", ", threshold=8)
        return text[:-1] + (", ...]" if value.size > 8 else "]")
    return repr(value)[:80]


def _describe(value: Any) -> dict[str, Any]:
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "preview": _preview(value)}
    return {"type": type(value).__name__, "preview": _preview(value)}


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=FILE",
              help="Feed input NAME from a .npy file (or .npz). Repeatable. Unfed inputs are generated.")
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE",
              help="Size of a symbolic dimension for generated inputs (default 1). Repeatable.")
@click.option("--seed", default=0, show_default=True, help="Seed for generated inputs.")
@click.option("--output", "-o", "output_file", type=click.Path(dir_okay=False), help="Save all outputs to this .npz file.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def run(model: str, inputs: tuple[str, ...], dims: tuple[str, ...], seed: int,
        output_file: str | None, as_json: bool) -> None:
    """Run MODEL once and print each output's name, dtype, shape and first values.

    Example: onyx run examples/digits/digits.onnx --input image=examples/digits/sample.npy
    """
    from onyx.errors import InvalidArgument
    from onyx.session import InferenceSession
    from onyx.tools.inputs import parse_assignments, prepare_feeds

    dim_values = {}
    for name, value in parse_assignments(dims, "--dim").items():
        if not value.isdigit():
            raise InvalidArgument(f"--dim {name}={value}: the size must be a non-negative integer")
        dim_values[name] = int(value)
    session = InferenceSession(model)
    feeds = prepare_feeds(session.get_inputs(), parse_assignments(inputs, "--input"), dim_values, seed)
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, feeds)))
    if output_file:
        np.savez(output_file, **{k: v for k, v in results.items() if isinstance(v, np.ndarray)})
    if as_json:
        payload = {
            "inputs": {k: _describe(v) for k, v in feeds.items()},
            "outputs": {k: _describe(v) for k, v in results.items()},
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for name, value in results.items():
        info = _describe(value)
        kind = f"{info['dtype']} {info['shape']}" if "dtype" in info else info["type"]
        click.echo(f"{name}: {kind}\n  {info['preview']}")
    if output_file:
        click.echo(f"saved {len(results)} output(s) to {output_file}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
