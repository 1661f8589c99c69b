"""onyx: an ONNX inference runtime in Python with onnxruntime's API.

``import onyx as ort`` and use ``ort.InferenceSession(path).run(None, feeds)``.
``onyx.install_as_onnxruntime()`` (or ``onyx exec -- python app.py``) runs code that imports
onnxruntime on onyx unchanged. ``__version__`` is onyx's; ``ONNXRUNTIME_API_VERSION`` (and
``get_version_string()``) the onnxruntime release whose API onyx follows.

InferenceSession and the classes around it (OrtValue, IOBinding, SparseTensor, capi, the provider functions) are
imported at first use (see _LAZY), so that ``import onyx`` and ``onyx -h`` import neither
onnx, ml_dtypes nor NumPy.
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
from onyx.plugins import custom_op
from onyx import alias
from onyx.alias import install_as_onnxruntime, uninstall_as_onnxruntime

# name -> (module, attribute; None: the module itself), imported at first access
_LAZY = {
    "InferenceSession": ("onyx.session", "InferenceSession"),
    "ModelMetadata": ("onyx.session", "ModelMetadata"),
    "NodeArg": ("onyx.session", "NodeArg"),
    "OrtAllocatorType": ("onyx.ortvalue", "OrtAllocatorType"),
    "OrtDevice": ("onyx.ortvalue", "OrtDevice"),
    "OrtMemType": ("onyx.ortvalue", "OrtMemType"),
    "OrtValue": ("onyx.ortvalue", "OrtValue"),
    "IOBinding": ("onyx.iobinding", "IOBinding"),
    "SessionIOBinding": ("onyx.iobinding", "IOBinding"),
    "OrtSparseFormat": ("onyx.sparse", "OrtSparseFormat"),
    "SparseTensor": ("onyx.sparse", "SparseTensor"),
    "capi": ("onyx.capi", None),
    "get_all_providers": ("onyx.providers", "get_all_providers"),
    "get_available_providers": ("onyx.providers", "get_available_providers"),
    "get_device": ("onyx.providers", "get_device"),
}


def __getattr__(name: str):
    """The names of _LAZY, imported on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'onyx' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
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
