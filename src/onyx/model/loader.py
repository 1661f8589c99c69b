"""Loading a model from a path, bytes or an onnx.ModelProto into onyx's IR."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from google.protobuf.message import DecodeError
from onnx import ModelProto

from onyx.errors import InvalidGraph, InvalidProtobuf, ModelLoadError, NoSuchFile, OnyxError
from onyx.model.convert import description, function_from_proto, graph_from_proto, opset_imports
from onyx.model.graph import Model
from onyx.model.validation import validate_model
from onyx.model.wire import FileView, TruncatedModel, check_complete, weights_as_file_references

ModelSource = Union[str, os.PathLike, bytes, bytearray, memoryview, ModelProto]

# Model files at least this large have their weights read from the file straight into their
# arrays instead of being copied by the protobuf parser and again into arrays.
SPLIT_WEIGHTS_BYTES = 32 << 20

# "hub:NAME" and "hf://ORG/REPO/FILE" name models of the model hub (see onyx.hub)
HUB_REFERENCES = ("hub:", "hf://")


def read_proto(source: ModelSource) -> tuple[ModelProto, str | None, str]:
    """Parse ``source`` without touching external data.

    Returns the proto, the folder external data is read from (None for bytes) and a
    label naming the source in error messages. A ``hub:`` or ``hf://`` reference is
    downloaded first (see onyx.hub).
    """
    if isinstance(source, ModelProto):
        return source, None, "<ModelProto>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), None, "<bytes>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"a model is a path, bytes or onnx.ModelProto, not {type(source).__name__}")
    if isinstance(source, str) and source.startswith(HUB_REFERENCES):
        from onyx.hub import resolve

        source = resolve(source)
    path = Path(source)
    if "\0" in str(path):
        raise NoSuchFile(f"model path {str(path)!r} contains a NUL byte")
    if not path.exists():
        raise NoSuchFile(f"model file '{path}' does not exist")
    if not path.is_file():
        raise ModelLoadError(f"model path '{path}' is not a file")
    resolved = path.resolve()
    try:
        if path.stat().st_size >= SPLIT_WEIGHTS_BYTES:
            data = _without_weights(resolved)
        else:
            data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file '{path}': {exc.strerror}") from None
    return _parse(data, str(path)), str(resolved.parent), str(path)


def _without_weights(path: Path) -> bytes:
    """The model file's bytes with its weights turned into references to where they lie in
    the file (see onyx.model.wire), or the plain bytes if its protobuf is malformed (parsing
    them then reports the problem). A file cut short is refused before anything is parsed."""
    with open(path, "rb") as f:
        view = FileView(f, os.fstat(f.fileno()).st_size)
        try:
            return weights_as_file_references(view, path.name)
        except TruncatedModel as exc:
            raise InvalidProtobuf(f"{path}: the file is truncated: {exc}") from None
        except ValueError:
            return view[0:len(view)]


def _parse(data: bytes, label: str) -> ModelProto:
    if not data:
        raise InvalidProtobuf(f"{label}: the file is empty")
    proto = ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        try:
            check_complete(data)
        except TruncatedModel as truncated:
            raise InvalidProtobuf(f"{label}: the model is truncated: {truncated}") from None
        raise InvalidProtobuf(f"{label}: not a valid ONNX model, the protobuf cannot be parsed ({exc})") from None
    return proto


def check_proto(proto: ModelProto, label: str) -> None:
    """The structural checks that must hold before conversion; the planner checks the rest
    (names, cycles, kernels). onnx's checker is not used: it rejects models that
    onnxruntime runs (for example graph outputs declared without a shape)."""
    if not proto.HasField("graph"):
        raise InvalidGraph(f"{label}: the model has no graph (the file is truncated or not an ONNX model)")
    if not proto.opset_import:
        raise InvalidGraph(f"{label}: the model declares no opset_import, so its operators cannot be resolved")
    for output in proto.graph.output:
        if not output.name:
            raise InvalidGraph(f"{label}: a graph output has no name")


def load_model(source: ModelSource) -> Model:
    """Read, validate and convert a model; every failure is an :class:`onyx.OnyxError`."""
    proto, base_dir, label = read_proto(source)
    check_proto(proto, label)
    try:
        graph = graph_from_proto(proto.graph, base_dir)
        opset = opset_imports(proto.opset_import)
        functions = {}
        for func in proto.functions:
            f = function_from_proto(func, base_dir)
            functions[(f.domain, f.name)] = f
        model = Model(
            graph=graph,
            opset=opset,
            functions=functions,
            ir_version=proto.ir_version,
            producer_name=description(proto.producer_name),
            producer_version=description(proto.producer_version),
            domain=description(proto.domain),
            model_version=proto.model_version,
            doc_string=description(proto.doc_string),
            metadata={description(p.key): description(p.value) for p in proto.metadata_props},
            source=label,
        )
        validate_model(model, proto)
    except OnyxError as exc:
        raise type(exc)(f"{label}: {exc}") from None
    return model
