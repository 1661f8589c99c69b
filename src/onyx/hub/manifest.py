"""The ONNX Model Zoo manifest (ONNX_HUB_MANIFEST.json): what models a hub serves and where.

A manifest is a JSON list of entries, one per model file::

    {"model": "ResNet50", "model_path": "vision/.../resnet50-v1-12.onnx",
     "onnx_version": "1.7", "opset_version": 12,
     "metadata": {"model_sha": "<sha256>", "model_bytes": 102583340, "tags": ["vision"],
                  "io_ports": {"inputs": [{"name": ..., "shape": [...], "type": ...}], "outputs": [...]}}}

``model_path`` is relative to the hub's root (an absolute http(s) URL is taken as is).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from onyx.errors import HubError

MANIFEST_NAME = "ONNX_HUB_MANIFEST.json"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class HubModel:
    """One model file a hub lists."""

    name: str
    path: str
    opset: int | None
    sha256: str | None
    size: int | None
    tags: tuple[str, ...] = ()
    inputs: tuple[dict, ...] = ()
    outputs: tuple[dict, ...] = ()
    onnx_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "opset": self.opset, "sha256": self.sha256,
                "size": self.size, "tags": list(self.tags), "inputs": list(self.inputs),
                "outputs": list(self.outputs), "onnx_version": self.onnx_version}


def parse_manifest(text: str | bytes, label: str) -> list[HubModel]:
    """The entries of a manifest's JSON text; ``label`` names it in errors."""
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise HubError(f"{label}: the manifest is not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise HubError(f"{label}: a manifest is a JSON list of models, not a {type(entries).__name__}")
    return [_entry(e, i, label) for i, e in enumerate(entries)]


def _entry(entry: Any, index: int, label: str) -> HubModel:
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or not isinstance(entry.get("model_path"), str):
        raise HubError(f"{label}: entry {index} needs the string fields 'model' and 'model_path'")
    meta = entry.get("metadata") or {}
    ports = meta.get("io_ports") or {}
    opset = entry.get("opset_version")
    sha = meta.get("model_sha") or None
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise HubError(f"{label}: entry {index} ('{entry['model']}'): model_sha must be 64 hex digits, not {sha!r}")
    return HubModel(
        name=entry["model"],
        path=entry["model_path"],
        opset=int(opset) if isinstance(opset, (int, str)) and str(opset).isdigit() else None,
        sha256=sha.lower() if sha else None,
        size=meta.get("model_bytes") if isinstance(meta.get("model_bytes"), int) else None,
        tags=tuple(str(t) for t in meta.get("tags") or ()),
        inputs=tuple(ports.get("inputs") or ()),
        outputs=tuple(ports.get("outputs") or ()),
        onnx_version=entry.get("onnx_version"),
        extra={k: v for k, v in meta.items() if k not in ("model_sha", "model_bytes", "tags", "io_ports")},
    )


def select(models: list[HubModel], tags: list[str] | None = None, name: str | None = None) -> list[HubModel]:
    """The models carrying every tag in ``tags`` (case-insensitive) and named ``name`` if given."""
    wanted = {t.lower() for t in tags or ()}
    return [m for m in models
            if wanted <= {t.lower() for t in m.tags} and (name is None or m.name.lower() == name.lower())]


def find(models: list[HubModel], name: str, opset: int | None, source: str) -> HubModel:
    """The model named ``name`` (case-insensitive) at ``opset``, or its newest opset when None.

    An unknown name raises HubError with the closest names the hub has.
    """
    matches = select(models, name=name)
    if not matches:
        raise HubError(f"no model named '{name}' in {source}" + _suggestions(models, name))
    if opset is not None:
        exact = [m for m in matches if m.opset == opset]
        if not exact:
            have = ", ".join(str(m.opset) for m in matches)
            raise HubError(f"model '{name}' has no opset {opset} in {source}; it has opset(s) {have}")
        return exact[0]
    return max(matches, key=lambda m: m.opset or 0)


def _suggestions(models: list[HubModel], name: str) -> str:
    by_lower = {m.name.lower(): m.name for m in models}
    close = difflib.get_close_matches(name.lower(), by_lower, n=5, cutoff=0.6)
    close += [n for n in by_lower if name.lower() in n and n not in close][: 5 - len(close)]
    if not close:
        return "; `onyx hub list` shows them all"
    return "; did you mean " + ", ".join(f"'{by_lower[n]}'" for n in close) + "?"
