"""The exceptions onyx raises. Every one is an :class:`OnyxError`.

Code written for onnxruntime catches its exception classes by name
(``onnxruntime.capi.onnxruntime_pybind11_state.Fail``, ``InvalidArgument``, ...);
:mod:`onyx.capi.onnxruntime_pybind11_state` gives those names to the classes below, so an
onyx error is caught where the same onnxruntime error would be (docs/compatibility.md).
"""


class OnyxError(Exception):
    """Base class of every error onyx raises on purpose."""


class Fail(OnyxError):
    """A generic failure: onnxruntime's FAIL status, raised by it for failed loads and runs."""


class InvalidArgument(OnyxError, ValueError):
    """A feed, output name or option given to a session is wrong."""


class ModelLoadError(Fail):
    """A model file or buffer cannot be turned into a runnable graph."""


class NoSuchFile(ModelLoadError, FileNotFoundError):
    """The model file (or an external-data file) does not exist."""


class InvalidProtobuf(ModelLoadError):
    """The bytes are not a well-formed ONNX ModelProto (corrupt or truncated)."""


class InvalidGraph(ModelLoadError):
    """The model parses but is not a valid graph (dangling names, cycles, bad tensors)."""


class UnsafeExternalData(ModelLoadError):
    """An external-data location points outside the model's folder."""


class OptimizerError(Fail, RuntimeError):
    """An optimizer pass failed on a model (the pass and the node are named); onnxruntime: Fail."""


class UnsupportedOperator(OnyxError, NotImplementedError):
    """No kernel is registered for an operator at the model's opset."""


class KernelError(Fail, RuntimeError):
    """A kernel raised while running a node (onnxruntime: Fail or RuntimeException)."""


class NotFound(OnyxError, RuntimeError, KeyError):
    """A named entry (a config key, a bound input) does not exist; a RuntimeError as in onnxruntime."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class HubError(OnyxError):
    """A model hub lookup or download failed (unknown name, unreachable source, offline miss)."""


class ChecksumMismatch(HubError):
    """A downloaded file's sha256 is not the one its manifest lists (the file was deleted)."""


class RunTerminated(Fail, RuntimeError):
    """A run stopped before it finished: ``RunOptions.terminate`` was set (before or during the
    run). onnxruntime raises Fail with the same message."""


class RunTimeLimitExceeded(RunTerminated):
    """A run passed its time limit (config entry ``session.onyx.run_time_limit_ms``)."""


class MemoryLimitExceeded(KernelError, MemoryError):
    """A node would make a value larger than the run's memory budget (config entry
    ``session.onyx.memory_limit_bytes``; by default the machine's physical memory), or NumPy
    could not allocate it. Sizes are logical: a broadcast view counts as the array it stands
    for. onnxruntime raises Fail when its allocation fails (Expand to [10^6, 10^6] included)."""


class DeviceUnavailable(Fail, RuntimeError):
    """A value or session asked for a device this process cannot use (CUDA without PyTorch or
    without a usable GPU). onnxruntime raises RuntimeError ("Can't allocate memory on the CUDA
    device using this package of OnnxRuntime")."""
