"""The models a server holds: one .onnx file, or a Triton-style repository ``repo/<name>/<version>/model.onnx``.

A model folder may hold ``config.json`` with any of :class:`ModelConfig`'s fields; options given
to ``onyx serve`` are the defaults for every model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import onyx
from onyx.errors import InvalidArgument, NoSuchFile
from onyx.serve.errors import NotFound, RequestError
from onyx.serve.tensors import datatype_of_onnx

log = logging.getLogger("onyx.serve")

MODEL_FILE = "model.onnx"
CONFIG_FILE = "config.json"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class ModelConfig:
    """How one model is served."""

    max_batch_size: int = 32       # rows stacked into one run; 0 turns dynamic batching off
    max_queue_delay_ms: float = 0  # how long the first queued request waits for others to join it
    max_queue_size: int = 256      # queued requests beyond which new ones get 503
    instance_count: int = 1        # sessions of the model that run at once
    providers: list[str] = field(default_factory=lambda: ["CPUExecutionProvider"])

    def updated(self, values: dict) -> "ModelConfig":
        """A copy with ``values`` (from a config file) applied; unknown keys or bad values raise."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidArgument(f"unknown model config keys {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            expected = list if key == "providers" else (float, int) if key == "max_queue_delay_ms" else int
            if not isinstance(value, expected) or isinstance(value, bool):
                raise InvalidArgument(f"model config {key}={value!r} has the wrong type")
        config = dataclasses.replace(self, **values)
        if config.max_batch_size < 0 or config.max_queue_delay_ms < 0 or config.max_queue_size < 1 \
                or config.instance_count < 1:
            raise InvalidArgument(f"model config out of range: {config}")
        return config


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as KServe describes it: -1 for a dimension of any size."""

    name: str
    datatype: str
    shape: list[int]

    def as_json(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


class Model:
    """One version of a model: its sessions, its tensors, its labels."""

    def __init__(self, name: str, version: str, path: Path, config: ModelConfig):
        self.name, self.version, self.path, self.config = name, version, path, config
        self.sessions = [onyx.InferenceSession(str(path), providers=config.providers)
                         for _ in range(config.instance_count)]
        session = self.sessions[0]
        self.inputs = [_spec(arg) for arg in session.get_inputs()]
        self.outputs = [_spec(arg) for arg in session.get_outputs()]
        meta = session.get_modelmeta()
        self.metadata = dict(meta.custom_metadata_map)
        self.description = meta.description
        self.labels = _labels(self.metadata)
        self.max_batch_size = config.max_batch_size if self._batchable() else 0
        if config.max_batch_size and not self.max_batch_size:
            log.info("model %s: no dimension of any size leads every input and output; batching off", name)

    def _batchable(self) -> bool:
        return all(spec.shape and spec.shape[0] == -1 for spec in self.inputs + self.outputs)

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    def metadata_json(self, versions: list[str]) -> dict:
        """The KServe model metadata reply; ``versions``: all the versions of this model served."""
        return {"name": self.name, "versions": versions, "platform": "onnxruntime_onnx",
                "inputs": [s.as_json() for s in self.inputs], "outputs": [s.as_json() for s in self.outputs]}

    def config_json(self) -> dict:
        """Triton's model configuration reply (the fields tritonclient reads)."""
        def dims(spec: TensorSpec) -> list[int]:
            return spec.shape[1:] if self.max_batch_size else spec.shape

        return {
            "name": self.name, "platform": "onnxruntime_onnx", "backend": "onyx",
            "max_batch_size": self.max_batch_size,
            "input": [{"name": s.name, "data_type": f"TYPE_{s.datatype}", "dims": dims(s)} for s in self.inputs],
            "output": [{"name": s.name, "data_type": f"TYPE_{s.datatype}", "dims": dims(s)} for s in self.outputs],
            "instance_group": [{"count": self.config.instance_count, "kind": "KIND_CPU"}],
            "dynamic_batching": {"max_queue_delay_microseconds": int(self.config.max_queue_delay_ms * 1000),
                                 "default_queue_policy": {"max_queue_size": self.config.max_queue_size}}
            if self.max_batch_size else None,
            "parameters": {"providers": {"string_value": ",".join(self.config.providers)}},
        }


def _spec(arg) -> TensorSpec:
    datatype = datatype_of_onnx(arg.type)
    if datatype is None:
        raise InvalidArgument(f"{arg.name} is a {arg.type}: onyx serve handles tensors only")
    return TensorSpec(arg.name, datatype, [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape])


def _labels(metadata: dict[str, str]) -> list[str] | None:
    """Class labels from the model's metadata (``labels`` or ``classes``: a JSON list or commas)."""
    text = metadata.get("labels") or metadata.get("classes")
    if not text:
        return None
    try:
        labels = json.loads(text)
    except ValueError:
        labels = text.split(",")
    return [str(label).strip() for label in labels] if isinstance(labels, list) else None


class Repository:
    """Every model version the server holds, looked up by name and optional version."""

    def __init__(self, models: list[Model]):
        self.versions: dict[str, dict[str, Model]] = {}
        for model in models:
            self.versions.setdefault(model.name, {})[model.version] = model

    @classmethod
    def load(cls, path: str | Path, defaults: ModelConfig | None = None) -> "Repository":
        """Load one model file or a repository folder; raises a clear error for anything malformed."""
        path, defaults = Path(path), defaults or ModelConfig()
        if path.is_file():
            if not _NAME.fullmatch(path.stem):
                raise InvalidArgument(f"{path}: a served model's name (the file name without .onnx) may hold "
                                      f"letters, digits, '_', '.' and '-' only")
            return cls([Model(path.stem, "1", path, defaults)])
        if not path.is_dir():
            raise NoSuchFile(f"{path}: no such model file or repository folder")
        models = []
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            if not _NAME.fullmatch(folder.name):
                continue
            config = defaults
            if (folder / CONFIG_FILE).is_file():
                try:
                    config = defaults.updated(json.loads((folder / CONFIG_FILE).read_text()))
                except ValueError as exc:
                    raise InvalidArgument(f"{folder / CONFIG_FILE}: {exc}") from None
            for version in sorted(p for p in folder.iterdir() if p.name.isdigit() and (p / MODEL_FILE).is_file()):
                models.append(Model(folder.name, version.name, version / MODEL_FILE, config))
        if not models:
            raise NoSuchFile(f"{path}: no models (expected <name>/<version>/{MODEL_FILE} or a .onnx file)")
        return cls(models)

    def get(self, name: str, version: str | None = None) -> Model:
        """The model ``name`` at ``version`` (the highest when None); 404 if there is none."""
        if not _NAME.fullmatch(name) or ".." in name:
            raise RequestError(f"invalid model name {name!r}")
        versions = self.versions.get(name)
        if versions is None:
            raise NotFound(f"unknown model '{name}'")
        if version is None or version == "":
            return versions[max(versions, key=int)]
        if version not in versions:
            raise NotFound(f"unknown version '{version}' of model '{name}' (available: {self.version_names(name)})")
        return versions[version]

    def version_names(self, name: str) -> list[str]:
        """The versions of model ``name``, in ascending order."""
        return sorted(self.versions[name], key=int)

    def models(self) -> list[Model]:
        return [m for versions in self.versions.values() for m in versions.values()]
