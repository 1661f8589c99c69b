"""What the commands share: feed options, opening a session, tables and progress on stderr."""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

LARGE_MODEL_BYTES = 100 * 1024 * 1024


def image_options(command: Callable) -> Callable:
    """--resize/--scale/--mean/--std: how image files become model inputs."""
    options = [
        click.option("--resize", metavar="HxW", help="Image files: resize to H x W (default: the input's shape)."),
        click.option("--scale", type=float, default=1 / 255, show_default="1/255",
                     help="Image files: multiply pixels (0..255) by this."),
        click.option("--mean", default="0", show_default=True, metavar="M[,M,M]",
                     help="Image files: subtract per channel after scaling."),
        click.option("--std", default="1", show_default=True, metavar="S[,S,S]",
                     help="Image files: divide per channel after subtracting the mean."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def feed_options(command: Callable) -> Callable:
    """--input/--dim/--seed and the image options, for commands that run a model."""
    options = [
        click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=FILE",
                     help="Feed input NAME from a .npy, .npz, .json or image file. Repeatable. "
                          "Inputs not given are generated."),
        click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE",
                     help="Size of a symbolic dimension (default 1). Repeatable."),
        click.option("--seed", default=0, show_default=True, help="Seed for generated inputs."),
    ]
    for option in reversed(options):
        command = option(command)
    return image_options(command)


def parse_dims(dims: Sequence[str]) -> dict[str, int]:
    from onyx.errors import InvalidArgument
    from onyx.tools.inputs import parse_assignments

    values = {}
    for name, value in parse_assignments(tuple(dims), "--dim").items():
        if not value.isdigit():
            raise InvalidArgument(f"--dim {name}={value}: the size must be a non-negative integer")
        values[name] = int(value)
    return values


def _floats(text: str, option: str) -> tuple[float, ...]:
    from onyx.errors import InvalidArgument

    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InvalidArgument(f"{option} '{text}' must be numbers separated by commas") from None


def make_feeds(session: Any, inputs: Sequence[str], dims: Sequence[str], seed: int, resize: str | None,
               scale: float, mean: str, std: str) -> dict[str, Any]:
    """Feeds for ``session`` from the feed options."""
    from onyx.tools.inputs import parse_assignments, prepare_feeds

    return prepare_feeds(session.get_inputs(), parse_assignments(tuple(inputs), "--input"),
                         parse_dims(dims), seed, parse_image_options(resize, scale, mean, std))


def parse_image_options(resize: str | None, scale: float, mean: str, std: str) -> Any:
    """The ImageOptions the image options describe."""
    from onyx.errors import InvalidArgument
    from onyx.tools.images import ImageOptions

    size = None
    if resize:
        h, sep, w = resize.lower().partition("x")
        if not (sep and h.isdigit() and w.isdigit()):
            raise InvalidArgument(f"--resize '{resize}' must look like HxW, e.g. 224x224")
        size = (int(h), int(w))
    return ImageOptions(size, scale, _floats(mean, "--mean"), _floats(std, "--std"))


@contextmanager
def loading(model: str) -> Iterator[None]:
    """Says on stderr that a large model is loading, and how long it took."""
    size = os.path.getsize(model) if os.path.isfile(model) else 0
    if size < LARGE_MODEL_BYTES:
        yield
        return
    click.echo(f"loading {model} ({size / 2**20:.0f} MiB)...", err=True)
    started = time.perf_counter()
    yield
    click.echo(f"loaded in {time.perf_counter() - started:.1f} s", err=True)


def open_session(model: str, options: Any = None) -> Any:
    from onyx.session import InferenceSession

    with loading(model):
        return InferenceSession(model, options)


@contextmanager
def progress_bar(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``update(done)`` taking the number of steps done."""
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        done = [0]

        def update(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        yield update


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; columns whose cells are all numbers (or empty) are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(items: Sequence[str]) -> str:
        return "  ".join(s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


_NUMBER = re.compile(r"^(-|-?[\d.,]+(e[-+]?\d+)?( ?(ms|us|s|k|M|G|%|x))?)?$")


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def count(n: float) -> str:
    """1234567 -> '1.23 M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:g}"


def echo_json(payload: Any) -> None:
    """Print ``payload`` as JSON; NaN (an error that does not apply) becomes null."""
    import json

    click.echo(json.dumps(_finite(payload), indent=2))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


json_option = functools.partial(click.option, "--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
          "all": "ORT_ENABLE_ALL"}


def level_option(default: str, help_text: str) -> Callable:
    """--level: which optimizer passes run, named as onnxruntime's graph optimization levels."""
    return click.option("--level", type=click.Choice(list(LEVELS)), default=default, show_default=True,
                        help=help_text)


def optimization_level(name: str) -> Any:
    from onyx.options import GraphOptimizationLevel

    return GraphOptimizationLevel[LEVELS[name]]

