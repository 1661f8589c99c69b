"""onyx view: show a model's graph in the browser, with netron (the ``[view]`` extra)."""

from __future__ import annotations

import click


@click.command()
@click.argument("model")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--browser/--no-browser", default=True, show_default=True, help="Open a web browser.")
def view(model: str, port: int, host: str, browser: bool) -> None:
    """Serve MODEL's graph in netron's viewer until Ctrl-C.

    MODEL is a file, hub:NAME or hf://ORG/REPO/FILE.onnx. Needs netron:
    pip install 'onyx-runtime[view]'.

    \b
    Example:
      onyx view examples/digits/digits.onnx --port 8080
    """
    from pathlib import Path

    from onyx.errors import NoSuchFile, OnyxError

    try:
        import netron
    except ImportError:
        raise OnyxError("onyx view needs netron: pip install 'onyx-runtime[view]'") from None
    if model.startswith(("hub:", "hf://")):
        from onyx.hub import resolve

        model = str(resolve(model))
    if not Path(model).is_file():
        raise NoSuchFile(f"model file '{model}' does not exist")
    netron.start(model, address=(host, port), browse=browser)  # it says where it serves
    try:
        netron.wait()
    finally:
        netron.stop()
