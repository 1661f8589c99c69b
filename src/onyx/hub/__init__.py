"""The model hub: models by name from an ONNX Model Zoo manifest, or from Hugging Face.

``InferenceSession("hub:ResNet50")`` and ``onyx run hub:ResNet50`` load a model the hub
lists; ``InferenceSession("hf://org/repo/model.onnx")`` one from a Hugging Face repository.

* The hub is the ONNX Model Zoo unless ``source=`` or ``ONYX_HUB_MANIFEST`` names another:
  an http(s) URL of a manifest (or of the folder holding ``ONNX_HUB_MANIFEST.json``), or a
  local folder or file. Model paths in a manifest are relative to the manifest's folder.
* Downloads go to a per-user cache (``ONYX_HUB_CACHE``, by default platformdirs' user cache
  folder for onyx), are checked against the manifest's sha256 and resume after an interruption.
* ``ONYX_HUB_OFFLINE=1`` uses only the cache: the last manifest fetched and the models
  downloaded; anything else raises :class:`onyx.errors.HubError`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urljoin

from onyx.errors import HubError
from onyx.hub import fetch
from onyx.hub.manifest import MANIFEST_NAME, HubModel, find, parse_manifest, select

DEFAULT_MANIFEST = "https://raw.githubusercontent.com/onnx/models/main/" + MANIFEST_NAME
# the Model Zoo stores its models in Git LFS: they are served from a different host than the manifest
_DEFAULT_FILES = "https://media.githubusercontent.com/media/onnx/models/main/"

HUB_PREFIX = "hub:"
HF_PREFIX = "hf://"

__all__ = ["HubModel", "cache_dir", "cached_path", "download", "is_reference", "list_models",
           "model_info", "offline", "resolve"]


def cache_dir() -> Path:
    """Where downloaded models and manifests are kept."""
    if os.environ.get("ONYX_HUB_CACHE"):
        return Path(os.environ["ONYX_HUB_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("onyx")) / "hub"


def offline() -> bool:
    """True when ONYX_HUB_OFFLINE asks for the cache only."""
    return os.environ.get("ONYX_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _source(source: str | os.PathLike | None) -> str:
    return str(source or os.environ.get("ONYX_HUB_MANIFEST") or DEFAULT_MANIFEST)


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _manifest_url(source: str) -> str:
    return source if source.endswith(".json") else source.rstrip("/") + "/" + MANIFEST_NAME


def _local_manifest(source: str) -> Path:
    path = Path(source).expanduser()
    manifest = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest.is_file():
        raise HubError(f"hub source '{source}' is neither an http(s) URL nor a manifest file or a folder "
                       f"holding {MANIFEST_NAME}")
    return manifest


def list_models(tags: list[str] | None = None, source: str | os.PathLike | None = None) -> list[HubModel]:
    """Every model the hub lists (those carrying all of ``tags`` when given)."""
    return select(_models(_source(source)), tags)


def model_info(name: str, opset: int | None = None, source: str | os.PathLike | None = None) -> HubModel:
    """The hub's entry for model ``name`` (its newest opset unless ``opset`` is given)."""
    src = _source(source)
    return find(_models(src), name, opset, _label(src))


def _label(source: str) -> str:
    return "the ONNX Model Zoo" if source == DEFAULT_MANIFEST else f"the hub at {source}"


def _models(source: str) -> list[HubModel]:
    if not _is_url(source):
        manifest = _local_manifest(source)
        return parse_manifest(manifest.read_bytes(), str(manifest))
    url = _manifest_url(source)
    cached = cache_dir() / "manifests" / f"{_key(url)}.json"
    if offline():
        if not cached.is_file():
            raise HubError(f"ONYX_HUB_OFFLINE is set and the manifest of {_label(source)} is not cached; "
                           "run once online to cache it")
        return parse_manifest(cached.read_bytes(), url)
    data = fetch.read_url(url)
    models = parse_manifest(data, url)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, cached)
    return models


def _model_url(source: str, model: HubModel) -> str:
    if _is_url(model.path):
        return model.path
    base = _DEFAULT_FILES if source == DEFAULT_MANIFEST else _manifest_url(source)
    return urljoin(base, model.path)


def _local_model(source: str, model: HubModel) -> Path:
    """A model of a local hub, inside the hub's folder."""
    root = _local_manifest(source).parent.resolve()
    path = (root / model.path).resolve()
    if root not in path.parents:
        raise HubError(f"model '{model.name}': path '{model.path}' leaves the hub's folder {root}")
    if not path.is_file():
        raise HubError(f"model '{model.name}': {path} does not exist")
    return path


def _cache_file(url: str, model: HubModel) -> Path:
    """<cache>/models/<sha256 or URL digest, 16 hex digits>/<the file's name>."""
    name = model.path.replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        name = "model.onnx"
    return cache_dir() / "models" / (model.sha256 or _key(url))[:16] / name


def cached_path(name: str, opset: int | None = None, source: str | os.PathLike | None = None) -> Path | None:
    """Where model ``name`` is on this machine, or None if it has not been downloaded."""
    src = _source(source)
    model = find(_models(src), name, opset, _label(src))
    if not _is_url(src) and not _is_url(model.path):
        return _local_model(src, model)
    path = _cache_file(_model_url(src, model), model)
    return path if path.is_file() else None


def download(name: str, opset: int | None = None, source: str | os.PathLike | None = None,
             progress: fetch.Progress | None = None) -> Path:
    """The local path of model ``name``, downloading and verifying it first if it is not cached.

    ``progress(done, total)`` is called as bytes arrive (by default a bar on stderr when it is
    a terminal).
    """
    src = _source(source)
    model = find(_models(src), name, opset, _label(src))
    if not _is_url(src) and not _is_url(model.path):
        return _local_model(src, model)
    url = _model_url(src, model)
    path = _cache_file(url, model)
    if path.is_file():
        return path
    if offline():
        raise HubError(f"model '{model.name}' is not in the cache ({cache_dir()}) and ONYX_HUB_OFFLINE "
                       "is set; download it once online")
    return fetch.download(url, path, model.sha256, model.size, progress)


def is_reference(source: object) -> bool:
    """True for ``hub:NAME[@OPSET]`` and ``hf://ORG/REPO/FILE`` strings."""
    return isinstance(source, str) and source.startswith((HUB_PREFIX, HF_PREFIX))


def resolve(reference: str, progress: fetch.Progress | None = None) -> Path:
    """The local file behind ``hub:NAME[@OPSET]`` or ``hf://ORG/REPO[@REVISION]/PATH``,
    downloaded if needed."""
    if reference.startswith(HF_PREFIX):
        from onyx.hub.huggingface import hf_download

        return hf_download(reference)
    if not reference.startswith(HUB_PREFIX):
        raise HubError(f"'{reference}' is not a hub reference (hub:NAME or hf://ORG/REPO/FILE)")
    name, sep, opset = reference[len(HUB_PREFIX):].rpartition("@")
    if not sep:
        name, opset = opset, ""
    if opset and not opset.isdigit():
        raise HubError(f"'{reference}': the opset after '@' must be a number")
    return download(name, int(opset) if opset else None, progress=progress)
