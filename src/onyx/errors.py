"""The exceptions onyx raises. Every one is an :class:`OnyxError`."""


class OnyxError(Exception):
    """Base class of every error onyx raises on purpose."""


class InvalidArgument(OnyxError, ValueError):
    """A feed, output name or option given to a session is wrong."""


class ModelLoadError(OnyxError):
    """A model file or buffer cannot be turned into a runnable graph."""


class NoSuchFile(ModelLoadError, FileNotFoundError):
    """The model file (or an external-data file) does not exist."""


class InvalidProtobuf(ModelLoadError):
    """The bytes are not a well-formed ONNX ModelProto (corrupt or truncated)."""


class InvalidGraph(ModelLoadError):
    """The model parses but is not a valid graph (dangling names, cycles, bad tensors)."""


class UnsafeExternalData(ModelLoadError):
    """An external-data location points outside the model's folder."""


class UnsupportedOperator(OnyxError, NotImplementedError):
    """No kernel is registered for an operator at the model's opset."""


class KernelError(OnyxError, RuntimeError):
    """A kernel raised while running a node."""


class HubError(OnyxError):
    """A model hub lookup or download failed (unknown name, unreachable source, offline miss)."""


class ChecksumMismatch(HubError):
    """A downloaded file's sha256 is not the one its manifest lists (the file was deleted)."""
