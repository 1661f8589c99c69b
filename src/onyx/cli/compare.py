"""onyx compare: find the first node where onyx and another runtime disagree."""

from __future__ import annotations

from typing import Any

import click

from onyx.cli.common import echo_json, feed_options, json_option, make_feeds, open_session, optimization_level, table

EXIT_DIVERGED = 3


def _err(value: float) -> str:
    return "-" if value != value else f"{value:.3g}"


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@feed_options
@click.option("--against", type=click.Choice(["onnxruntime", "reference"]), default="onnxruntime",
              show_default=True, help="The other runtime (reference: onnx.reference.ReferenceEvaluator).")
@click.option("--rtol", default=1e-4, show_default=True, help="Relative tolerance.")
@click.option("--atol", default=1e-5, show_default=True, help="Absolute tolerance.")
@click.option("--all", "show_all", is_flag=True, help="List every value, not only the first 20 and the divergent ones.")
@json_option()
def compare(model: str, against: str, rtol: float, atol: float, show_all: bool, as_json: bool, **feed: Any) -> None:
    """Find the first node where onyx and another runtime disagree.

    Runs MODEL in both with every intermediate value exposed, compares the values node by
    node in execution order and reports the first node whose outputs break
    |onyx - other| <= atol + rtol * |other|. Exit code 3 when a divergence is found.

    \b
    Example:
      onyx compare examples/digits/digits.onnx --against onnxruntime --dim batch=8
    """
    from onyx.options import SessionOptions
    from onyx.tools.compare import compare as compare_model

    options = SessionOptions()  # node by node: the graph as saved, not the fused one
    options.graph_optimization_level = optimization_level("disabled")
    session = open_session(model, options)
    feeds = make_feeds(session, **feed)
    report = compare_model(model, feeds, against, rtol, atol, session=session,
                           progress=lambda message: click.echo(f"{message}...", err=True))
    first = report.first
    if as_json:
        echo_json(report.to_dict())
    else:
        rows = [r for i, r in enumerate(report.rows) if show_all or i < 20 or not r.ok]
        click.echo(table(["value", "node", "op type", "shape", "max abs err", "max rel err", "status"],
                         [[r.value, r.node, r.op_type, "?" if r.shape is None else r.shape, _err(r.max_abs),
                           _err(r.max_rel), ("ok" if r.ok else "DIVERGES") + (f" ({r.note})" if r.note else "")]
                          for r in rows]))
        if len(rows) < len(report.rows):
            click.echo(f"({len(report.rows) - len(rows)} more values agree; --all lists them)")
        if first is None:
            click.echo(f"\nall {len(report.rows)} values agree with {against} (rtol={rtol:g}, atol={atol:g})")
        else:
            shapes = ", ".join("?" if s is None else str(s) for s in report.first_input_shapes)
            click.echo(f"\nfirst divergence: node '{first.node}' ({first.op_type}), output '{first.value}', "
                       f"inputs' shapes {shapes}: max abs err {_err(first.max_abs)}, max rel err "
                       f"{_err(first.max_rel)}" + (f" ({first.note})" if first.note else ""))
    if first is not None:
        click.get_current_context().exit(EXIT_DIVERGED)
