"""onyx hub: list, describe and download models of a model hub (see onyx.hub)."""

from __future__ import annotations

import click

from onyx.cli.common import echo_json, json_option, table

_manifest_option = click.option(
    "--manifest", "source", metavar="URL|PATH",
    help="The hub: a manifest's URL, or a folder holding ONNX_HUB_MANIFEST.json "
         "(default: $ONYX_HUB_MANIFEST, else the ONNX Model Zoo).")
_opset_option = click.option("--opset", type=int, help="The model's opset (default: its newest).")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _shape(shape: object) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if isinstance(shape, list) else str(shape)


@click.group()
def hub() -> None:
    """Models by name from the ONNX Model Zoo, a team's own hub, or Hugging Face.

    Downloads are cached per user ($ONYX_HUB_CACHE), checked against the manifest's sha256 and
    resumed after an interruption; ONYX_HUB_OFFLINE=1 uses only the cache. `onyx run hub:NAME`
    and InferenceSession("hub:NAME") load a hub model; "hf://ORG/REPO/FILE.onnx" one from
    Hugging Face.

    \b
    Example:
      onyx hub list --tag vision
      onyx hub download mnist
    """


@hub.command(name="list")
@click.option("--tag", "tags", multiple=True, help="Only models with this tag. Repeatable.")
@_manifest_option
@json_option()
def list_command(tags: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """List the hub's models: name, opset, size and tags."""
    from onyx.hub import list_models

    models = list_models(list(tags), source)
    if as_json:
        echo_json([m.to_dict() for m in models])
        return
    click.echo(table(["model", "opset", "size", "tags"],
                     [[m.name, m.opset or "-", _size(m.size), ", ".join(m.tags)] for m in models]))


@hub.command()
@click.argument("name")
@_opset_option
@_manifest_option
@json_option()
def info(name: str, opset: int | None, source: str | None, as_json: bool) -> None:
    """Show what the hub says of model NAME: file, sha256, size, tags, inputs and outputs."""
    from onyx.hub import cached_path, model_info

    model = model_info(name, opset, source)
    cached = cached_path(model.name, model.opset, source)
    if as_json:
        echo_json({**model.to_dict(), "cached": str(cached) if cached else None})
        return
    click.echo(f"model:   {model.name}\nopset:   {model.opset or '-'}\npath:    {model.path}")
    click.echo(f"sha256:  {model.sha256 or '-'}\nsize:    {_size(model.size)}\ntags:    {', '.join(model.tags) or '-'}")
    click.echo(f"cached:  {cached or 'no'}")
    for title, ports in (("inputs", model.inputs), ("outputs", model.outputs)):
        if ports:
            click.echo(f"\n{title}:")
            click.echo(table(["name", "type", "shape"],
                             [[p.get("name", "?"), p.get("type", "?"), _shape(p.get("shape", "?"))] for p in ports]))


@hub.command()
@click.argument("name")
@_opset_option
@_manifest_option
def download(name: str, opset: int | None, source: str | None) -> None:
    """Download model NAME into the cache (if not there yet) and print its path.

    NAME may also be hf://ORG/REPO/FILE.onnx.
    """
    from onyx.hub import download as fetch_model
    from onyx.hub import resolve
    from onyx.hub.fetch import text_progress

    progress = text_progress(name)
    path = resolve(name) if name.startswith("hf://") else fetch_model(name, opset, source, progress)
    click.echo(str(path))


@hub.command()
@click.argument("name", required=False)
@_opset_option
@_manifest_option
def path(name: str | None, opset: int | None, source: str | None) -> None:
    """Print where model NAME is cached (the cache folder without NAME); exit 2 if not downloaded."""
    from onyx.hub import cache_dir, cached_path

    if name is None:
        click.echo(str(cache_dir()))
        return
    found = cached_path(name, opset, source)
    if found is None:
        click.echo(f"onyx: model '{name}' is not downloaded; run: onyx hub download {name}", err=True)
        click.get_current_context().exit(2)
    click.echo(str(found))
