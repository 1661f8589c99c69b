"""onyx bench: latency and throughput, optionally against onnxruntime."""

from __future__ import annotations

from typing import Any

import click

from onyx.cli.common import echo_json, feed_options, json_option, make_feeds, ms, open_session, progress_bar, table


def _onnxruntime_runner(model: str, feeds: dict[str, Any]) -> Any:
    from onyx.errors import InvalidArgument

    try:
        import onnxruntime
    except ImportError:
        raise InvalidArgument("--compare onnxruntime needs onnxruntime installed (pip install onnxruntime)") from None
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@feed_options
@click.option("--warmup", default=3, show_default=True, help="Untimed runs first.")
@click.option("--runs", "-n", default=50, show_default=True, help="Timed runs (per runtime).")
@click.option("--time", "budget", type=float, metavar="SECONDS", help="Stop after this many seconds (at least 3 runs).")
@click.option("--compare", "against", type=click.Choice(["onnxruntime"]),
              help="Also time this runtime, alternating runs, and print the ratio.")
@click.option("--settle", type=float, metavar="SECONDS",
              help="Idle pause before each timed run, so one runtime's spin-waiting threads (onnxruntime's "
                   "pool, OpenBLAS's workers) sleep before the other runs; untimed runs follow it for 0.1 s "
                   "[default: 0.25 with --compare, else 0].")
@json_option()
def bench(model: str, warmup: int, runs: int, budget: float | None, against: str | None, settle: float | None,
          as_json: bool, **feed: Any) -> None:
    """Time MODEL: latency median/p90/p99 and throughput.

    Warm-up runs first, then --runs timed runs (or fewer, with --time SECONDS). With
    --compare onnxruntime both runtimes run alternately in this process.

    \b
    Example:
      onyx bench examples/digits/digits.onnx --dim batch=64 --runs 200 --compare onnxruntime
    """
    from onyx.tools.bench import alternate

    session = open_session(model)
    feeds = make_feeds(session, **feed)
    runners = {"onyx": lambda: session.run(None, feeds)}
    if against:
        runners[against] = _onnxruntime_runner(model, feeds)
    if settle is None:
        settle = 0.25 if against else 0.0
    with progress_bar(runs, "benchmarking") as update:
        timings = alternate(runners, warmup=warmup, runs=runs, budget_s=budget, progress=update,
                            settle_s=settle)
    ratio = timings["onyx"].median / timings[against].median if against else None
    if as_json:
        echo_json({
            "runtimes": {name: {"runs": len(t.samples), "median_s": t.median, "p90_s": t.percentile(90),
                                "p99_s": t.percentile(99), "throughput_per_s": t.throughput}
                         for name, t in timings.items()},
            "ratio": ratio,
        })
        return
    rows = [[name, len(t.samples), ms(t.median), ms(t.percentile(90)), ms(t.percentile(99)), f"{t.throughput:.1f}"]
            for name, t in timings.items()]
    click.echo(table(["runtime", "runs", "median", "p90", "p99", "runs/s"], rows))
    if ratio is not None:
        click.echo(f"onyx / {against} median latency: {ratio:.2f}x "
                   f"({'slower' if ratio > 1 else 'faster'} than {against})")
