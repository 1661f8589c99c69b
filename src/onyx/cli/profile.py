"""onyx profile: where the time goes, per node and per op type, plus a Chrome trace."""

from __future__ import annotations

from typing import Any

import click

from onyx.cli.common import (
    echo_json, feed_options, json_option, level_option, make_feeds, open_session, optimization_level, progress_bar,
    table,
)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@feed_options
@click.option("--runs", "-n", default=10, show_default=True, help="Profiled runs (after one warm-up run).")
@click.option("--top", default=10, show_default=True, help="Rows in the per-node table.")
@click.option("--prefix", default="onyx_profile", show_default=True,
              help="The trace is written to PREFIX_<timestamp>.json.")
@json_option()
@level_option("all", "Optimizer passes applied before profiling (disabled: profile the graph as saved).")
def profile(model: str, runs: int, top: int, prefix: str, level: str, as_json: bool, **feed: Any) -> None:
    """Time each node and op type of MODEL and write a Chrome trace.

    Prints the time per op type and the slowest nodes (mean per run, share of kernel time)
    and writes PREFIX_<timestamp>.json, to open in chrome://tracing or https://ui.perfetto.dev.

    \b
    Example:
      onyx profile examples/digits/digits.onnx --dim batch=256 --runs 20 --prefix digits
    """
    from onyx.options import SessionOptions
    from onyx.tools.profile import profile_session

    options = SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    options.graph_optimization_level = optimization_level(level)
    session = open_session(model, options)
    feeds = make_feeds(session, **feed)
    with progress_bar(runs + 1, "profiling") as update:
        trace, summary = profile_session(session, feeds, runs, update)
    if as_json:
        echo_json({"trace": trace, **summary.to_dict()})
        return
    per_run = summary.kernel_us / max(summary.runs, 1) / 1e3
    click.echo(f"{summary.runs} runs, kernel time {per_run:.3f} ms per run")
    click.echo("\nop types:")
    click.echo(table(["op type", "nodes", "ms/run", "share"],
                     [[r.name, r.calls // max(summary.runs, 1), f"{r.total_us / summary.runs / 1e3:.3f}",
                       f"{r.share:.1%}"] for r in summary.op_types]))
    shown = summary.nodes[:top]
    click.echo(f"\nslowest nodes ({len(shown)} of {len(summary.nodes)}):")
    click.echo(table(["node", "op type", "ms/run", "share"],
                     [[r.name, r.op_type, f"{r.total_us / summary.runs / 1e3:.3f}", f"{r.share:.1%}"]
                      for r in shown]))
    click.echo(f"\ntrace written to {trace} (open in chrome://tracing or https://ui.perfetto.dev)")
