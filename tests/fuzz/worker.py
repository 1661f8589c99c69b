"""The fuzz worker: a child process that loads and runs cases and checks the invariants.

It says "ready" once imported, then reads pickled cases (dicts of Case's fields) from stdin
and writes one pickled verdict per case to stdout (8-byte length, then the pickle). A crash or a hang is seen by the parent, not here.
Invariants checked here: only OnyxError subclasses escape, no file opened inside the fuzz
root but outside the model's folder, feeds unchanged by a run, outputs that share memory
with no other output or feed.
"""

from __future__ import annotations

import os
import pickle
import resource
import shutil
import struct
import sys
import tempfile
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx

# the worker may allocate at most this much address space: a model asking for terabytes must
# fail with an error, not take the machine's memory from everyone else
ADDRESS_SPACE_LIMIT = 6 << 30
MAX_FEED_ELEMENTS = 1 << 16

_watch: dict[str, Path | None] = {"root": None, "folder": None}
_outside_reads: list[str] = []


def _audit(event: str, args: tuple) -> None:
    """Record files opened inside the fuzz root but outside the model's folder."""
    root, folder = _watch["root"], _watch["folder"]
    if root is None or event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    try:
        path = Path(os.fsdecode(args[0])).resolve()
    except (OSError, ValueError):
        return
    if root in path.parents and path != folder and folder not in path.parents:
        _outside_reads.append(str(path))


def _place(case, root: Path) -> Path:
    """Write the case's model and files into root/model (the secret lies at root/secret.bin)."""
    folder = root / "model"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "sub").mkdir(parents=True)
    (root / "secret.bin").write_bytes(case.files.get("secret.bin", b"secret"))
    for name, data in case.files.items():
        if name != "secret.bin":
            (folder / name).write_bytes(data)
    os.symlink(root / "secret.bin", folder / "link.bin")
    data = case.model
    if b"@SECRET@" in data:
        try:
            model = onnx.ModelProto()
            model.ParseFromString(data)
            for tensor in model.graph.initializer:
                for entry in tensor.external_data:
                    entry.value = entry.value.replace("@SECRET@", str(root / "secret.bin"))
            data = model.SerializeToString()
        except Exception:  # noqa: BLE001 - a corrupt case keeps its bytes
            pass
    path = folder / "model.onnx"
    path.write_bytes(data)
    return path


def _feeds(session, seed: int) -> dict[str, np.ndarray] | None:
    """Small random feeds for the session's inputs; None when an input cannot be fed."""
    from onyx.model.types import np_dtype_from_type_string

    rng = np.random.default_rng(seed)
    feeds = {}
    for arg in session.get_inputs():
        try:
            dtype = np_dtype_from_type_string(arg.type)
        except ValueError:
            return None
        shape = [d if isinstance(d, int) and 0 <= d <= 64 else int(rng.integers(1, 4)) for d in arg.shape]
        if int(np.prod(shape)) > MAX_FEED_ELEMENTS:
            return None
        if dtype.kind == "f":
            value = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            value = rng.integers(0, 4, shape).astype(dtype)
        elif dtype.kind == "b":
            value = rng.integers(0, 2, shape).astype(bool)
        elif dtype.kind in "OU":
            value = np.full(shape, "a", dtype=object)
        else:
            return None
        feeds[arg.name] = value
    return feeds


def _aliasing(outputs: list, feeds: dict[str, np.ndarray]) -> str | None:
    arrays = [o for o in outputs if isinstance(o, np.ndarray) and o.size]
    for i, a in enumerate(arrays):
        if not a.flags.writeable:
            return f"output {i} is read-only"
        for j, b in enumerate(arrays[i + 1:], i + 1):
            if np.may_share_memory(a, b):
                return f"outputs {i} and {j} share memory"
        for name, feed in feeds.items():
            if isinstance(feed, np.ndarray) and np.may_share_memory(a, feed):
                return f"output {i} shares memory with feed '{name}'"
    return None


def check(case, root: Path) -> dict:
    """Load and run one case; the verdict says what happened and which invariant broke."""
    import onyx

    path = _place(case, root)
    _outside_reads.clear()
    _watch["root"], _watch["folder"] = root.resolve(), path.parent.resolve()
    verdict = {"outcome": "ran", "problem": None}
    stage = "load"
    try:
        options = onyx.SessionOptions()
        options.graph_optimization_level = onyx.GraphOptimizationLevel(case.level)
        session = onyx.InferenceSession(str(path), options)
        feeds = _feeds(session, case.feeds_seed)
        if feeds is None:
            verdict["outcome"] = "loaded"
            return verdict
        stage = "run"
        before = {k: v.copy() for k, v in feeds.items()}
        outputs = session.run(None, feeds)
        for name, value in feeds.items():
            if value.dtype != before[name].dtype or not np.array_equal(value, before[name], equal_nan=value.dtype.kind == "f"):
                verdict["problem"] = f"feed '{name}' was modified by the run"
        verdict["problem"] = verdict["problem"] or _aliasing(outputs, feeds)
    except onyx.OnyxError as exc:
        verdict["outcome"] = f"refused at {stage}"
        verdict["error"] = type(exc).__name__
    except BaseException as exc:  # noqa: BLE001 - what the fuzzer is looking for
        verdict["problem"] = f"{type(exc).__name__} escaped at {stage}: {str(exc)[:300]}"
        verdict["traceback"] = "".join(traceback.format_exception(exc)[-6:])[-3000:]
    finally:
        _watch["root"] = None
    if _outside_reads:
        verdict["problem"] = f"opened files outside the model's folder: {sorted(set(_outside_reads))}"
    return verdict


def _send(protocol, message) -> None:
    data = pickle.dumps(message)
    protocol.write(struct.pack("<Q", len(data)) + data)
    protocol.flush()


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the protocol
    sys.addaudithook(_audit)
    root = Path(tempfile.mkdtemp(prefix="onyx-fuzz-"))
    import onyx  # noqa: F401 - imported before saying ready, so no case's time limit pays for it

    _send(protocol, "ready")
    try:
        while True:
            header = sys.stdin.buffer.read(8)
            if len(header) < 8:
                return
            case = SimpleNamespace(**pickle.loads(sys.stdin.buffer.read(struct.unpack("<Q", header)[0])))
            _send(protocol, check(case, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
