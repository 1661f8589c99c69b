"""Downloading one file over HTTP(S): resumable, verified, with a progress bar.

A download writes ``<dest>.part`` first. If it is interrupted, the part stays, and the next
download of the same file asks the server for the rest (an HTTP Range request) and appends it.
Once complete, the file's sha256 is checked against the expected one (when known): a mismatch
deletes the file and raises :class:`onyx.errors.ChecksumMismatch`; a match renames it to ``dest``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from onyx.errors import ChecksumMismatch, HubError

CHUNK = 1 << 16
TIMEOUT_S = 30

# progress(done_bytes, total_bytes_or_None); called as bytes arrive and once at the end
Progress = Callable[[int, "int | None"], None]


def read_url(url: str) -> bytes:
    """The body of a (small) URL, such as a manifest."""
    try:
        with urllib.request.urlopen(_request(url), timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise HubError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise HubError(f"cannot reach {url} ({_reason(exc)}); with ONYX_HUB_OFFLINE=1 onyx uses "
                       "only what it has cached") from None


def download(url: str, dest: Path, sha256: str | None = None, size: int | None = None,
             progress: Progress | None = None) -> Path:
    """Download ``url`` to ``dest`` (resuming a ``.part`` left by an interrupted download)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = _request(url)
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part is already whole (or longer than the file): start over
            part.unlink()
            return download(url, dest, sha256, size, progress)
        raise HubError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise HubError(f"cannot reach {url} ({_reason(exc)})") from None
    with response:
        if have and response.status != 206:  # the server ignored the Range: take the whole body
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        with open(part, "ab" if have else "wb") as out:
            done = _copy(response, out, have, total, progress or _default_progress(dest.name), url)
    if total is not None and done < total:
        raise HubError(f"download of {url} stopped after {done} of {total} bytes; "
                       f"run it again to resume from {part}")
    _verify(part, sha256, url)
    os.replace(part, dest)
    return dest


def _copy(response: BinaryIO, out: BinaryIO, done: int, total: int | None, progress: Progress, url: str) -> int:
    progress(done, total)
    try:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            progress(done, total)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a dropped connection: keep what arrived for a resume
        out.flush()
        raise HubError(f"download of {url} stopped after {done} bytes ({_reason(exc)}); "
                       f"run it again to resume") from None
    finally:
        progress(done, -1 if total is None else -total)  # a negative total says: finished
    return done


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, sha256: str | None, url: str) -> None:
    if not sha256:
        return
    actual = sha256_of(path)
    if actual.lower() != sha256.lower():
        path.unlink()
        raise ChecksumMismatch(f"{url}: the downloaded file's sha256 is {actual}, the manifest says "
                               f"{sha256}; the file was deleted (a corrupted download or a changed file)")


def _request(url: str) -> urllib.request.Request:
    from onyx import __version__

    return urllib.request.Request(url, headers={"User-Agent": f"onyx/{__version__}"})


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc or type(exc).__name__)


def _default_progress(label: str) -> Progress:
    """A progress bar on stderr when it is a terminal; silence otherwise."""
    return text_progress(label) if sys.stderr.isatty() else (lambda done, total: None)


def text_progress(label: str, stream=None, every_s: float = 0.1) -> Progress:
    """A one-line progress bar (``label [#####     ] 12.3/45.6 MiB``) written to ``stream``."""
    stream = stream or sys.stderr
    last = [0.0]

    def show(done: int, total: int | None) -> None:
        finished = total is not None and total < 0
        total = -total if finished else total
        now = time.monotonic()
        if not finished and now - last[0] < every_s:
            return
        last[0] = now
        mib = f"{done / 2**20:.2f}" + (f"/{total / 2**20:.2f}" if total else "") + " MiB"
        bar = ""
        if total:
            filled = int(30 * min(done, total) / total)
            bar = "[" + "#" * filled + " " * (30 - filled) + "] "
        stream.write(f"\r{label} {bar}{mib}" + ("\n" if finished else ""))
        stream.flush()

    return show
