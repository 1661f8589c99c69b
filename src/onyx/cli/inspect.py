"""onyx inspect: what a model holds."""

from __future__ import annotations

import click

from onyx.cli.common import count, echo_json, json_option, loading, parse_dims, table


def _shape(shape: list | None) -> str:
    return "?" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE",
              help="Fix a symbolic dimension for the FLOP estimate. Repeatable.")
@json_option()
def inspect(model: str, dims: tuple[str, ...], as_json: bool) -> None:
    """Show what MODEL holds: inputs, outputs, parameters, operators, FLOPs.

    Also the producer, IR version, opset imports, model-local functions and external-data
    files. FLOPs per operator type are estimated where shapes are known (--dim fixes
    symbolic dimensions; a multiply-add counts two).

    \b
    Example:
      onyx inspect examples/digits/digits.onnx --dim batch=1
    """
    from onyx.tools.inspect import summarize

    with loading(model):
        info = summarize(model, parse_dims(dims))
    if as_json:
        echo_json(info.to_dict())
        return
    click.echo(f"model:        {info.source}")
    click.echo(f"producer:     {info.producer}")
    click.echo(f"IR version:   {info.ir_version}")
    click.echo("opsets:       " + ", ".join(f"{d} {v}" for d, v in info.opsets.items()))
    click.echo(f"initializers: {info.initializer_count} ({info.parameter_count:,} parameters, "
               f"{info.parameter_bytes / 2**20:.2f} MiB)")
    click.echo(f"nodes:        {info.node_count}")
    for title, values in (("inputs", info.inputs), ("outputs", info.outputs)):
        click.echo(f"\n{title}:")
        click.echo(table(["name", "type", "shape"], [[v.name, v.type, _shape(v.shape)] for v in values]))
    click.echo("\noperators:")
    rows = [[op, n, count(info.flops[op]) if op in info.flops else "-"] for op, n in info.op_histogram.items()]
    click.echo(table(["op type", "count", "FLOPs"], rows))
    if info.flops:
        click.echo(f"total FLOPs: {count(sum(info.flops.values()))}")
    if info.flops_unknown:
        click.echo(f"FLOPs unknown for {sum(info.flops_unknown.values())} node(s) without concrete shapes; "
                   "fix symbolic dimensions with --dim NAME=VALUE")
    if info.functions:
        click.echo("\nfunctions: " + ", ".join(f"{name} ({n} nodes)" for name, n in info.functions.items()))
    if info.external_files:
        click.echo("\nexternal data: " + ", ".join(f"{f} ({b / 2**20:.2f} MiB)" for f, b in info.external_files.items()))
