"""onyx batch: a model's predictions for every row of a dataset, on a Ray cluster."""

from __future__ import annotations

from typing import Any

import click

from onyx.cli.common import image_options, parse_image_options, table


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="New folder for the Parquet files (input columns not fed to the model, "
                   "`row`, one column per output).")
@click.option("--address", metavar="auto|HOST:PORT|ray://HOST:PORT|local",
              help="The Ray cluster to run on (default: start a local Ray instance).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Rows per model run.")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Actors, each holding one session.")
@click.option("--num-cpus", type=click.FloatRange(min=0), default=1, show_default=True,
              help="CPUs reserved per actor.")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="A batch whose rows do not fit the model: stop the job, or leave the batch out.")
@click.option("--input-column", "input_columns", multiple=True, metavar="NAME=COL[,COL...]",
              help="Feed input NAME from a column, or from several numeric columns stacked "
                   "(default: the column named NAME; a one-input model takes all columns).")
@image_options
def batch(model: str, input_path: str, output: str, address: str | None, batch_size: int,
          concurrency: int, num_cpus: float, on_error: str, input_columns: tuple[str, ...],
          **image: Any) -> None:
    """Run MODEL over every row of INPUT on a Ray cluster and write the outputs as Parquet.

    INPUT is a Parquet or CSV file, a folder of them, or a folder of images for a model with
    one image input (resized and scaled as `onyx run` does). Needs the [ray] extra.

    \b
    Example:
      onyx batch examples/digits/digits.onnx digits.parquet --output predictions --concurrency 2
    """
    from onyx.errors import OnyxError
    from onyx.tools.inputs import parse_assignments

    try:
        from onyx.ray.batch import connect, run_batch
    except ImportError as exc:
        raise OnyxError(f"onyx batch needs Ray Data: pip install 'onyx-runtime[ray]' ({exc})") from None
    columns = {name: value.split(",") for name, value in parse_assignments(input_columns, "--input-column").items()}
    connect(address)
    summary = run_batch(model, input_path, output, batch_size=batch_size, concurrency=concurrency,
                        num_cpus=num_cpus, on_error=on_error, input_columns=columns or None,
                        image_options=parse_image_options(**image))
    skipped_rows = sum(b.count for b in summary.skipped)
    click.echo(table(["rows", "seconds", "rows/s", "failed batches", "skipped rows"],
                     [[summary.rows, f"{summary.seconds:.2f}", f"{summary.rows_per_second:.1f}",
                       len(summary.skipped), skipped_rows]]))
    for skipped in summary.skipped:
        click.echo(f"skipped {skipped.rows}: {skipped.reason}")
    click.echo(f"written to {output}")
