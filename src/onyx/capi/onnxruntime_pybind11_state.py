"""onnxruntime.capi.onnxruntime_pybind11_state as onyx provides it: the names code imports from
onnxruntime's native module, above all its exception classes.

Each onnxruntime exception name is an onyx error class, so ``except Fail`` or ``except
InvalidArgument`` catches what onyx raises where onnxruntime would raise that error:
Fail catches every failed load and failed node; NotImplemented a missing kernel;
RuntimeException a failed node. The rest exist so that code naming them imports and runs;
onyx does not raise them. docs/compatibility.md has the table.
"""

from enum import IntEnum

from onyx.environment import (
    disable_telemetry_events,
    enable_telemetry_events,
    get_build_info,
    get_version_string,
    has_collective_ops,
    set_default_logger_severity,
    set_default_logger_verbosity,
    set_seed,
)
from onyx.errors import Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile, NotFound, OnyxError
from onyx.errors import KernelError as RuntimeException
from onyx.errors import UnsupportedOperator as NotImplemented  # noqa: A001 - onnxruntime's name
from onyx.iobinding import IOBinding as SessionIOBinding
from onyx.options import ExecutionMode, ExecutionOrder, GraphOptimizationLevel, RunOptions, SessionOptions
from onyx.ortvalue import OrtAllocatorType, OrtDevice, OrtMemType, OrtValue
from onyx.providers import get_all_providers, get_available_providers, get_device
from onyx.session import ModelMetadata, NodeArg
from onyx.sparse import OrtSparseFormat, SparseBlockSparseView, SparseCooView, SparseCsrView, SparseTensor


class NoModel(OnyxError):
    """onnxruntime's NO_MODEL status; onyx does not raise it."""


class ModelLoaded(OnyxError):
    """onnxruntime's MODEL_LOADED status; onyx does not raise it."""


class EngineError(OnyxError):
    """onnxruntime's ENGINE_ERROR status; onyx does not raise it."""


class EPFail(OnyxError):
    """onnxruntime's EP_FAIL status (an execution provider failed); onyx does not raise it."""


class ModelLoadCanceled(OnyxError):
    """onnxruntime's MODEL_LOAD_CANCELED status; onyx does not raise it."""


class ModelRequiresCompilation(OnyxError):
    """onnxruntime's MODEL_REQUIRES_COMPILATION status; onyx does not raise it."""


class DeviceReset(OnyxError):
    """onnxruntime's DEVICE_RESET status; onyx does not raise it."""


class ArenaExtendStrategy(IntEnum):
    kNextPowerOfTwo = 0
    kSameAsRequested = 1


kNextPowerOfTwo = ArenaExtendStrategy.kNextPowerOfTwo
kSameAsRequested = ArenaExtendStrategy.kSameAsRequested


def get_default_session_options() -> SessionOptions:
    return SessionOptions()


__all__ = [
    "ArenaExtendStrategy",
    "DeviceReset",
    "EPFail",
    "EngineError",
    "ExecutionMode",
    "ExecutionOrder",
    "Fail",
    "GraphOptimizationLevel",
    "InvalidArgument",
    "InvalidGraph",
    "InvalidProtobuf",
    "ModelLoadCanceled",
    "ModelLoaded",
    "ModelMetadata",
    "ModelRequiresCompilation",
    "NoModel",
    "NoSuchFile",
    "NodeArg",
    "NotFound",
    "NotImplemented",
    "OrtAllocatorType",
    "OrtDevice",
    "OrtMemType",
    "OrtSparseFormat",
    "OrtValue",
    "RunOptions",
    "RuntimeException",
    "SessionIOBinding",
    "SessionOptions",
    "SparseBlockSparseView",
    "SparseCooView",
    "SparseCsrView",
    "SparseTensor",
    "disable_telemetry_events",
    "enable_telemetry_events",
    "get_all_providers",
    "get_available_providers",
    "get_build_info",
    "get_default_session_options",
    "get_device",
    "get_version_string",
    "has_collective_ops",
    "kNextPowerOfTwo",
    "kSameAsRequested",
    "set_default_logger_severity",
    "set_default_logger_verbosity",
    "set_seed",
]
