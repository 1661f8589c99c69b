"""onyx: an ONNX inference runtime in Python with onnxruntime's API.

``import onyx as ort`` and use ``ort.InferenceSession(path).run(None, feeds)``.
``onyx.install_as_onnxruntime()`` (or ``onyx exec -- python app.py``) runs code that imports
onnxruntime on onyx unchanged. ``__version__`` is onyx's; ``ONNXRUNTIME_API_VERSION`` (and
``get_version_string()``) the onnxruntime release whose API onyx follows.

InferenceSession and the classes it returns are imported at first use (see __getattr__), so
that ``import onyx`` and ``onyx -h`` do not import onnx, ml_dtypes and NumPy.
"""

__version__ = "0.1.0"

from onyx.errors import (
    Fail,
    HubError,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    KernelError,
    MemoryLimitExceeded,
    ModelLoadError,
    NoSuchFile,
    NotFound,
    OnyxError,
    OptimizerError,
    RunTerminated,
    RunTimeLimitExceeded,
    UnsafeExternalData,
    UnsupportedOperator,
)
from onyx.environment import (
    ONNXRUNTIME_API_VERSION,
    disable_telemetry_events,
    enable_telemetry_events,
    get_build_info,
    get_version_string,
    has_collective_ops,
    preload_dlls,
    set_default_logger_severity,
    set_default_logger_verbosity,
    set_seed,
)
from onyx.options import ExecutionMode, ExecutionOrder, GraphOptimizationLevel, RunOptions, SessionOptions
from onyx.ortvalue import OrtAllocatorType, OrtDevice, OrtMemType, OrtValue
from onyx.plugins import custom_op
from onyx.providers import get_all_providers, get_available_providers, get_device
from onyx.iobinding import IOBinding
from onyx.sparse import OrtSparseFormat, SparseTensor
from onyx import alias
from onyx.alias import install_as_onnxruntime, uninstall_as_onnxruntime
from onyx import capi

SessionIOBinding = IOBinding

_FROM_SESSION = frozenset({"InferenceSession", "ModelMetadata", "NodeArg"})


def __getattr__(name: str):
    """onyx.session's public classes, imported on first access."""
    if name not in _FROM_SESSION:
        raise AttributeError(f"module 'onyx' has no attribute {name!r}")
    from onyx import session

    value = getattr(session, name)
    globals()[name] = value
    return value


__all__ = [
    "__version__",
    "ONNXRUNTIME_API_VERSION",
    "custom_op",
    "ExecutionMode",
    "ExecutionOrder",
    "Fail",
    "GraphOptimizationLevel",
    "IOBinding",
    "HubError",
    "InferenceSession",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "KernelError",
    "MemoryLimitExceeded",
    "ModelLoadError",
    "ModelMetadata",
    "NoSuchFile",
    "NodeArg",
    "NotFound",
    "OnyxError",
    "OptimizerError",
    "OrtAllocatorType",
    "OrtDevice",
    "OrtMemType",
    "OrtSparseFormat",
    "OrtValue",
    "RunOptions",
    "RunTerminated",
    "RunTimeLimitExceeded",
    "SessionIOBinding",
    "SessionOptions",
    "SparseTensor",
    "UnsafeExternalData",
    "UnsupportedOperator",
    "capi",
    "disable_telemetry_events",
    "enable_telemetry_events",
    "get_all_providers",
    "get_available_providers",
    "get_build_info",
    "get_device",
    "get_version_string",
    "has_collective_ops",
    "install_as_onnxruntime",
    "preload_dlls",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
    "set_seed",
    "uninstall_as_onnxruntime",
]
