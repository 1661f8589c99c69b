"""onyx run: run a model once."""

from __future__ import annotations

from typing import Any

import click

from onyx.cli.common import echo_json, feed_options, json_option, make_feeds, open_session


def _preview(value: Any) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        text = np.array2string(value.reshape(-1)[:8], precision=4, separator=", ", threshold=8)
        return text[:-1] + (", ...]" if value.size > 8 else "]")
    return repr(value)[:80]


def describe(value: Any) -> dict[str, Any]:
    import numpy as np

    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "preview": _preview(value)}
    return {"type": type(value).__name__, "preview": _preview(value)}


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@feed_options
@click.option("--output", "-o", "output_file", type=click.Path(dir_okay=False), help="Save all outputs to this .npz file.")
@json_option()
def run(model: str, output_file: str | None, as_json: bool, **feed: Any) -> None:
    """Run MODEL once and print its outputs.

    Prints each output's name, dtype, shape and first values; --output saves them all.

    \b
    Example:
      onyx run examples/digits/digits.onnx --input image=examples/digits/sample.npy
    """
    import numpy as np  # here, so that `onyx -h` does not import it

    session = open_session(model)
    feeds = make_feeds(session, **feed)
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, feeds)))
    if output_file:
        np.savez(output_file, **{k: v for k, v in results.items() if isinstance(v, np.ndarray)})
    if as_json:
        echo_json({"inputs": {k: describe(v) for k, v in feeds.items()},
                   "outputs": {k: describe(v) for k, v in results.items()}})
        return
    for name, value in results.items():
        info = describe(value)
        kind = f"{info['dtype']} {info['shape']}" if "dtype" in info else info["type"]
        click.echo(f"{name}: {kind}\n  {info['preview']}")
    if output_file:
        click.echo(f"saved {len(results)} output(s) to {output_file}")
