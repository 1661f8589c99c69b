"""The ``onyx`` command line: run, inspect, bench, profile, optimize, compare, exec.

Exit codes: 0 success, 2 user error (bad model, input or option), 1 internal error,
3 ``compare`` found a divergence.
Errors print one line; --debug shows the traceback. Each command lives in its own module
here; the library code behind them is in onyx.tools.
"""

from __future__ import annotations

import traceback
from typing import Any

import click

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


@click.group(cls=OnyxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="onyx-runtime", prog_name="onyx")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """onyx: run, inspect, time, profile, optimize and compare ONNX models, and run
    onnxruntime applications on onyx (exec).

    Every command has --help with an example.
    """
    ctx.obj = {"debug": debug}


from onyx.cli.batch import batch  # noqa: E402 - the commands register on the group above
from onyx.cli.bench import bench  # noqa: E402
from onyx.cli.compare import compare  # noqa: E402
from onyx.cli.exec import exec_  # noqa: E402
from onyx.cli.hub import hub  # noqa: E402
from onyx.cli.inspect import inspect  # noqa: E402
from onyx.cli.optimize import optimize  # noqa: E402
from onyx.cli.profile import profile  # noqa: E402
from onyx.cli.run import run  # noqa: E402
from onyx.cli.view import view  # noqa: E402

for _command in (run, inspect, bench, profile, optimize, compare, hub, view, batch):
    main.add_command(_command)
main.add_command(exec_, name="exec")

from onyx.cli.serve import serve  # noqa: E402 - needs the [serve] extra only when it runs

main.add_command(serve)
