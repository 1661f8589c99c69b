"""onyx inspect: what a model holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from onyx.cli.common import count, echo_json, json_option, loading, parse_dims, table

if TYPE_CHECKING:  # imported where used, so that `onyx -h` does not import onnx
    from onyx.tools.inspect import ModelSummary
    from onyx.tools.layers import Layer, Port


def _shape(shape: list | None) -> str:
    return "?" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE",
              help="Fix a symbolic dimension for the FLOP estimate. Repeatable.")
@click.option("--layers", "show_layers", is_flag=True,
              help="Also list every node: inputs, outputs, their shapes and the attributes.")
@click.option("--providers", "show_providers", is_flag=True,
              help="Show which execution provider runs each partition of the optimized model, "
                   "and which kernel each node got.")
@click.option("--providers-list", metavar="NAME[,NAME...]",
              help="With --providers: the providers to partition for, in priority order "
                   "(default: CPUExecutionProvider).")
@json_option()
def inspect(model: str, dims: tuple[str, ...], show_layers: bool, show_providers: bool,
            providers_list: str | None, as_json: bool) -> None:
    """Show what MODEL holds: inputs, outputs, parameters, operators, FLOPs.

    Also the producer, IR version, opset imports, model-local functions and external-data
    files. FLOPs per operator type are estimated where shapes are known (--dim fixes
    symbolic dimensions; a multiply-add counts two). --layers lists every node. --providers
    shows instead how a session places the optimized model on execution providers,
    partition by partition, and the kernel each node got (numpy, or a compiled one with
    the [fast] extra).

    \b
    Example:
      onyx inspect examples/digits/digits.onnx --dim batch=1 --layers
      onyx inspect examples/digits/digits.onnx --providers
    """
    if show_providers or providers_list:
        _show_providers(model, providers_list, as_json)
        return
    from onyx.model.loader import read_proto
    from onyx.tools.inspect import summarize
    from onyx.tools.layers import list_layers

    with loading(model):
        info = summarize(model, parse_dims(dims))
        layers = list_layers(read_proto(model)[0], parse_dims(dims)) if show_layers else None
    if as_json:
        echo_json({**info.to_dict(), **({"layers": [x.to_dict() for x in layers]} if layers is not None else {})})
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
    click.echo(_flops_total(info))
    if info.functions:
        click.echo("\nfunctions: " + ", ".join(f"{name} ({n} nodes)" for name, n in info.functions.items()))
    if info.external_files:
        click.echo("\nexternal data: " + ", ".join(f"{f} ({b / 2**20:.2f} MiB)" for f, b in info.external_files.items()))
    if layers is not None:
        click.echo(f"\nlayers ({len(layers)}):")
        for layer in layers:
            click.echo(_layer_text(layer))


def _flops_total(info: ModelSummary) -> str:
    """The total FLOPs, or what could not be counted and why, instead of a partial sum."""
    total = count(sum(info.flops.values()))
    if not info.flops_unknown:
        return f"total FLOPs: {total}"
    missing = ", ".join(f"{op} x{n}" for op, n in info.flops_unknown.items())
    counted = f"{total} counted; " if info.flops else ""
    if info.symbolic_dims:
        names = ", ".join(info.symbolic_dims)
        fix = " ".join(f"--dim {d}=VALUE" for d in info.symbolic_dims)
        why = f"their shapes depend on the symbolic dimension(s) {names}: give them with {fix}"
    else:
        why = "shape inference could not find their shapes"
    return f"total FLOPs: unknown ({counted}not counted: {missing}; {why})"


def _port(port: Port) -> str:
    return f"{port.name} {_shape(port.shape)}"


def _layer_text(layer: Layer) -> str:
    where = f"{layer.graph}/" if layer.graph else ""
    lines = [f"  [{layer.index}] {where}{layer.name or '(unnamed)'}  {layer.op_type}",
             "      inputs:  " + (", ".join(_port(p) for p in layer.inputs) or "-"),
             "      outputs: " + (", ".join(_port(p) for p in layer.outputs) or "-")]
    if layer.attributes:
        lines.append("      attrs:   " + ", ".join(f"{k}={v}" for k, v in layer.attributes.items()))
    return "\n".join(lines)


def _show_providers(model: str, providers_list: str | None, as_json: bool) -> None:
    """Print the session's partitions: graph, partition, provider, nodes."""
    import dataclasses

    from onyx.session import InferenceSession

    names = [n.strip() for n in providers_list.split(",") if n.strip()] if providers_list else None
    with loading(model):
        session = InferenceSession(model, providers=names)
    partitions = session.get_provider_assignment()
    if as_json:
        echo_json({"providers": session.get_providers(),
                   "partitions": [dataclasses.asdict(p) for p in partitions]})
        return
    click.echo("providers: " + ", ".join(session.get_providers()))
    rows = [[p.graph, p.index, p.provider, len(p.nodes), _node_list(p.nodes)] for p in partitions]
    click.echo(table(["graph", "partition", "provider", "nodes", "names"], rows))
    click.echo("\nkernels:")
    rows = [[p.graph, name, op, kernel] for p in partitions for name, op, kernel in zip(p.nodes, p.op_types, p.kernels)]
    click.echo(table(["graph", "node", "op", "kernel"], rows))


def _node_list(names: tuple[str, ...], shown: int = 6) -> str:
    more = f" ... (+{len(names) - shown})" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
