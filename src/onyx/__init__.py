"""onyx: an ONNX inference runtime in Python with onnxruntime's API.

``import onyx as ort`` and use ``ort.InferenceSession(path).run(None, feeds)``.
"""

__version__ = "0.1.0"

from onyx.errors import (
    HubError,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    KernelError,
    ModelLoadError,
    NoSuchFile,
    OnyxError,
    UnsafeExternalData,
    UnsupportedOperator,
)
from onyx.environment import get_build_info, set_default_logger_severity, set_default_logger_verbosity
from onyx.options import ExecutionMode, ExecutionOrder, GraphOptimizationLevel, RunOptions, SessionOptions
from onyx.plugins import custom_op
from onyx.providers import get_all_providers, get_available_providers, get_device
from onyx.session import InferenceSession, ModelMetadata, NodeArg

__all__ = [
    "__version__",
    "custom_op",
    "ExecutionMode",
    "ExecutionOrder",
    "GraphOptimizationLevel",
    "HubError",
    "InferenceSession",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "KernelError",
    "ModelLoadError",
    "ModelMetadata",
    "NoSuchFile",
    "NodeArg",
    "OnyxError",
    "RunOptions",
    "SessionOptions",
    "UnsafeExternalData",
    "UnsupportedOperator",
    "get_all_providers",
    "get_available_providers",
    "get_build_info",
    "get_device",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
]
