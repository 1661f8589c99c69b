"""onyx optimize: save an optimized copy of a model."""

from __future__ import annotations

import click

from onyx.cli.common import echo_json, json_option, level_option, loading, optimization_level, table
_PROTOBUF_LIMIT = 2**31 - 1


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--output", "-o", "output_file", required=True, type=click.Path(dir_okay=False),
              help="Where to write the optimized model.")
@level_option("all", "Which passes run (as onnxruntime's graph optimization levels).")
@json_option()
def optimize(model: str, output_file: str, level: str, as_json: bool) -> None:
    """Save an optimized copy of MODEL and show what each pass changed.

    The result is a valid ONNX model that onyx and onnxruntime can load: onyx's own fused
    operators are written as onnxruntime's com.microsoft ones or as standard operators.

    \b
    Example:
      onyx optimize examples/digits/digits.onnx -o digits.opt.onnx --level all
    """
    import onnx

    from onyx.model.loader import load_model
    from onyx.model.save import model_to_proto
    from onyx.optimizer import optimize as run_passes
    from onyx.optimizer.nchwc import unblock_nchwc
    from onyx.optimizer.portable import portable

    with loading(model):
        graph_model = unblock_nchwc(load_model(model))
    before = len(graph_model.graph.nodes)
    optimized, reports = run_passes(graph_model, optimization_level(level))
    proto = model_to_proto(portable(optimized))
    onnx.save(proto, output_file, save_as_external_data=proto.ByteSize() > _PROTOBUF_LIMIT)
    after = len(optimized.graph.nodes)
    if as_json:
        echo_json({"output": output_file, "level": level, "nodes_before": before, "nodes_after": after,
                   "passes": [{"phase": r.phase, "name": r.name, "nodes_before": r.nodes_before, "nodes_after": r.nodes_after}
                              for r in reports]})
        return
    click.echo(table(["phase", "pass", "nodes before", "nodes after", "change"],
                     [[r.phase, r.name, r.nodes_before, r.nodes_after, f"{r.nodes_after - r.nodes_before:+d}"]
                      for r in reports]))
    click.echo(f"\nnodes: {before} -> {after}; written to {output_file}")
