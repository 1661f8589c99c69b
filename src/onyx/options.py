"""SessionOptions, RunOptions and the enums onnxruntime code imports, with onnxruntime's names.

Fields onyx does not act on are accepted and stored so that code written for
onnxruntime runs unchanged; each is marked "ignored" below.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from onyx.errors import NotFound


class GraphOptimizationLevel(IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1  # independent nodes run side by side on inter_op_num_threads threads


class ExecutionOrder(IntEnum):
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


def _int(name: str, value: Any) -> int:
    if isinstance(value, (str, bytes, float)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})") from None


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, (str, bytes, float)) or value is None:
        raise TypeError(f"{name} must be a bool, not {type(value).__name__} ({value!r})")
    return bool(_int(name, value))


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__} ({value!r})")
    return value


def _path(name: str, value: Any) -> str:
    """A str; os.PathLike is accepted too (onnxruntime takes only str)."""
    return os.fspath(value) if isinstance(value, os.PathLike) else _str(name, value)


def _enum(enum: type[IntEnum]) -> Callable[[str, Any], IntEnum]:
    """A converter to ``enum`` from its members, onnxruntime's members or their int values."""

    def convert(name: str, value: Any) -> IntEnum:
        if not isinstance(value, (str, bytes, float)):
            try:
                return enum(int(value))
            except (TypeError, ValueError):
                pass
        raise TypeError(f"{name} must be a {enum.__name__}, not {type(value).__name__} ({value!r})")

    return convert


class _TypedOptions:
    """Options whose public attributes are a fixed set of typed fields, as in onnxruntime:
    a misspelt name raises AttributeError, a wrongly typed value TypeError."""

    _FIELDS: dict[str, Callable[[str, Any], Any]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            convert = self._FIELDS.get(name)
            if convert is None:
                raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
            value = convert(name, value)
        object.__setattr__(self, name, value)


def _config_value(key: Any, value: Any) -> tuple[str, str]:
    if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError(f"config entries take a str key and a str value, got {type(key).__name__} and {type(value).__name__}")
    return key, value


# Session config entries (value "1") that let onyx change settings of the whole process
# (docs/process.md says what each costs to leave off):
# glibc's malloc keeps freed buffers under 32 MiB for reuse (onyx.runtime.arena), from this
# session's creation until the process ends
PROCESS_MALLOC_TUNING = "session.onyx.malloc_tuning"
# NumPy's huge-page hint is off while the session is created (onyx.runtime.pages): large
# arrays any thread allocates meanwhile get none
PROCESS_REGULAR_PAGES = "session.onyx.regular_pages_at_creation"
# With intra_op_num_threads=0, runs use only the CPUs other processes leave free
# (onyx.runtime.contention): much faster on a crowded machine, but results then vary in their
# last bits with the machine's load (BLAS sums in another order), so it is asked for
ADAPT_THREADS_TO_LOAD = "session.onyx.adapt_threads_to_load"


class SessionOptions(_TypedOptions):
    """Options for :class:`onyx.InferenceSession`.

    Acted on: add_initializer / add_external_initializers, add_free_dimension_override_by_name and
    add_free_dimension_override_by_denotation,
    graph_optimization_level (which optimizer passes run at session creation; default all),
    optimized_model_filepath (where to save the optimized model, when set),
    intra_op_num_threads (threads of a run: the BLAS library's and those of onyx's parallel kernels;
    0: one per CPU),
    enable_profiling and profile_file_prefix (see InferenceSession.end_profiling),
    execution_mode and inter_op_num_threads (ORT_PARALLEL: independent nodes run side by side on
    that many threads, 0: one per CPU; see onyx.runtime.parallel; sequential is the default),
    the session config entries session.onyx.run_time_limit_ms and session.onyx.memory_limit_bytes
    (a run's time limit and the largest value it may make; see docs/security.md, "Limits"),
    the session config entries PROCESS_MALLOC_TUNING and PROCESS_REGULAR_PAGES above (opt-ins
    to process-wide settings; onyx changes none by default) and ADAPT_THREADS_TO_LOAD.
    Accepted and stored, not acted on: other session config entries.
    Ignored (meaningless for onyx): enable_cpu_mem_arena, enable_mem_pattern, enable_mem_reuse,
    execution_order, log_severity_level,
    log_verbosity_level, logid, use_deterministic_compute, use_per_session_threads.
    Values are typed as in onnxruntime (TypeError otherwise) and unknown attributes raise AttributeError.
    """

    _FIELDS = {
        "graph_optimization_level": _enum(GraphOptimizationLevel),
        "optimized_model_filepath": _path,
        "intra_op_num_threads": _int,
        "inter_op_num_threads": _int,
        "enable_profiling": _bool,
        "profile_file_prefix": _path,
        "execution_mode": _enum(ExecutionMode),
        "execution_order": _enum(ExecutionOrder),
        "enable_cpu_mem_arena": _bool,
        "enable_mem_pattern": _bool,
        "enable_mem_reuse": _bool,
        "log_severity_level": _int,
        "log_verbosity_level": _int,
        "logid": _str,
        "use_deterministic_compute": _bool,
        "use_per_session_threads": _bool,
    }

    def __init__(self) -> None:
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.optimized_model_filepath = ""
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.enable_profiling = False
        self.profile_file_prefix = "onyx_profile"
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.execution_order = ExecutionOrder.DEFAULT
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.use_deterministic_compute = False
        self.use_per_session_threads = True
        self._config: dict[str, str] = {}
        self._initializers: dict[str, object] = {}
        self._free_dimension_overrides: dict[str, int] = {}
        self._free_dimension_overrides_by_denotation: dict[str, int] = {}

    def add_session_config_entry(self, key: str, value: str) -> None:
        key, value = _config_value(key, value)
        self._config[key] = value

    def get_session_config_entry(self, key: str) -> str:
        """The value of ``key``; RuntimeError (onyx.NotFound) when it is not set, as in onnxruntime."""
        if key not in self._config:
            raise NotFound(f"SessionOptions does not have configuration with key: {key}")
        return self._config[key]

    def add_initializer(self, name: str, value: object) -> None:
        """Replace the initializer ``name`` with ``value`` (a NumPy array) for sessions using these options."""
        self._initializers[name] = value

    def add_external_initializers(self, names: list[str], values: list[object]) -> None:
        for name, value in zip(names, values):
            self.add_initializer(name, value)

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Fix a symbolic dimension: feeds must then have exactly ``dim_value`` there."""
        self._free_dimension_overrides[_str("dim_name", dim_name)] = _int("dim_value", dim_value)

    def add_free_dimension_override_by_denotation(self, dim_denotation: str, dim_value: int) -> None:
        """Fix every dimension whose denotation is ``dim_denotation`` (e.g. "DATA_BATCH")."""
        self._free_dimension_overrides_by_denotation[_str("dim_denotation", dim_denotation)] = _int("dim_value", dim_value)

    def register_custom_ops_library(self, library_path: str) -> None:
        """Import a Python module (a name or a .py file) whose ``@onyx.custom_op`` kernels then
        serve every session of the process; a native library raises InvalidArgument (see onyx.plugins)."""
        from onyx.plugins import load_custom_ops_library

        load_custom_ops_library(library_path)


class RunOptions(_TypedOptions):
    """Per-run options.

    Acted on: ``terminate`` (set it, from any thread, to stop runs using these options: they raise
    onyx.RunTerminated between nodes or within a long kernel's loop; set it back to False to run
    again), and the run config entries session.onyx.run_time_limit_ms and
    session.onyx.memory_limit_bytes, which override the session's for one run.
    Accepted and stored, not acted on: the other fields and run config entries; ``run_tag`` is
    accepted (older onnxruntime releases had it)."""

    _FIELDS = {
        "log_severity_level": _int,
        "log_verbosity_level": _int,
        "logid": _str,
        "run_tag": _str,
        "only_execute_path_to_fetches": _bool,
        "terminate": _bool,
    }

    def __init__(self) -> None:
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.run_tag = ""
        self.only_execute_path_to_fetches = False
        self.terminate = False
        self._config: dict[str, str] = {}

    def add_run_config_entry(self, key: str, value: str) -> None:
        key, value = _config_value(key, value)
        self._config[key] = value

    def get_run_config_entry(self, key: str) -> str:
        """The value of ``key``; RuntimeError (onyx.NotFound) when it is not set, as in onnxruntime."""
        if key not in self._config:
            raise NotFound(f"RunOptions does not have configuration with key: {key}")
        return self._config[key]
