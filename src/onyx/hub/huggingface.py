"""Models in Hugging Face repositories: ``hf://ORG/REPO[@REVISION]/PATH/TO/model.onnx``.

Files come through ``huggingface_hub`` (the ``[hub]`` extra) into onyx's hub cache
(``huggingface/ORG/REPO/REVISION/``), with the
external-data files the model names beside it. ``HF_ENDPOINT`` points at another server (a
mirror) and ``ONYX_HUB_OFFLINE=1`` uses only what is cached.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import onnx

from onyx.errors import HubError

PREFIX = "hf://"


def parse_hf_url(reference: str) -> tuple[str, str | None, str]:
    """``hf://org/repo[@rev]/path/file.onnx`` -> (repo id, revision or None, file path in the repo)."""
    parts = reference[len(PREFIX):].split("/") if reference.startswith(PREFIX) else []
    if len(parts) < 3 or not all(parts):
        raise HubError(f"'{reference}' is not a Hugging Face model reference; write hf://ORG/REPO/FILE.onnx "
                       "(or hf://ORG/REPO@REVISION/FILE.onnx)")
    repo, _, revision = parts[1].partition("@")
    filename = "/".join(parts[2:])
    if {".", ".."} & {parts[0], repo, revision, *parts[2:]}:
        raise HubError(f"'{reference}': '.' and '..' are not names of organizations, repositories, "
                       "revisions or files")
    return f"{parts[0]}/{repo}", revision or None, filename


def hf_download(reference: str) -> Path:
    """The local path of the model ``reference`` names, with its external-data files beside it."""
    from onyx.hub import cache_dir, offline

    try:
        import huggingface_hub
    except ImportError:
        raise HubError("hf:// models need huggingface_hub: pip install 'onyx-runtime[hub]'") from None
    repo_id, revision, filename = parse_hf_url(reference)
    # real files in a folder per repository and revision, not huggingface_hub's cache of symlinks
    # into a blob store: onyx reads external data only from the model's own folder
    folder = cache_dir() / "huggingface" / repo_id / (revision or "main")

    def get(name: str) -> Path:
        try:
            return Path(huggingface_hub.hf_hub_download(
                repo_id, name, revision=revision, local_dir=folder,
                local_files_only=offline(), endpoint=os.environ.get("HF_ENDPOINT") or None))
        except Exception as exc:  # noqa: BLE001 - huggingface_hub raises many kinds, all mean "not here"
            where = "in the cache (ONYX_HUB_OFFLINE is set)" if offline() else "on the Hugging Face hub"
            raise HubError(f"cannot get '{name}' of {repo_id} {where}: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

    model = get(filename)
    subfolder = PurePosixPath(filename).parent
    for location in external_locations(model):
        get(str(subfolder / location) if str(subfolder) != "." else location)
    return model


def external_locations(path: Path) -> list[str]:
    """The external-data files a model names, relative to its folder (each checked to stay inside it)."""
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - a corrupt file: the session reports it when loading
        return []
    found: list[str] = []
    for tensor in _tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        parts = PurePosixPath(location.replace("\\", "/")).parts
        if not location or location.startswith("/") or ".." in parts or ":" in location:
            raise HubError(f"{path.name}: external data location '{location}' must stay inside the model's folder")
        if location not in found:
            found.append(location)
    return found


def _tensors(graph: onnx.GraphProto):
    """The initializers and tensor attributes of ``graph`` and its subgraphs."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for subgraph in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _tensors(subgraph)
