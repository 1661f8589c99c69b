"""SessionOptions, RunOptions and the enums onnxruntime code imports, with onnxruntime's names.

Fields onyx does not act on are accepted and stored so that code written for
onnxruntime runs unchanged; each is marked "ignored" below.
"""

from __future__ import annotations

from enum import IntEnum

from onyx.errors import InvalidArgument


class GraphOptimizationLevel(IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1  # accepted; onyx runs nodes sequentially


class ExecutionOrder(IntEnum):
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


class SessionOptions:
    """Options for :class:`onyx.InferenceSession`.

    Acted on: add_initializer / add_external_initializers, add_free_dimension_override_by_name,
    graph_optimization_level (which optimizer passes run at session creation; default all),
    optimized_model_filepath (where to save the optimized model, when set),
    intra_op_num_threads (threads of a run: the BLAS library's and those of onyx's parallel kernels;
    0: one per CPU),
    enable_profiling and profile_file_prefix (see InferenceSession.end_profiling),
    enable_cpu_mem_arena (freed buffers kept for reuse, see onyx.runtime.arena; once a session
    turns it on, it stays on for the process).
    Accepted and stored, not acted on: session config entries.
    Ignored (meaningless for onyx): enable_mem_pattern, enable_mem_reuse,
    execution_mode, execution_order, inter_op_num_threads, log_severity_level,
    log_verbosity_level, logid, use_deterministic_compute.
    """

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
        self._config: dict[str, str] = {}
        self._initializers: dict[str, object] = {}
        self._free_dimension_overrides: dict[str, int] = {}

    def add_session_config_entry(self, key: str, value: str) -> None:
        self._config[key] = str(value)

    def get_session_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise InvalidArgument(f"session config entry '{key}' is not set")
        return self._config[key]

    def add_initializer(self, name: str, value: object) -> None:
        """Replace the initializer ``name`` with ``value`` (a NumPy array) for sessions using these options."""
        self._initializers[name] = value

    def add_external_initializers(self, names: list[str], values: list[object]) -> None:
        for name, value in zip(names, values):
            self.add_initializer(name, value)

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Fix a symbolic dimension: feeds must then have exactly ``dim_value`` there."""
        self._free_dimension_overrides[dim_name] = int(dim_value)

    def register_custom_ops_library(self, library_path: str) -> None:
        """Import a Python module (a name or a .py file) whose ``@onyx.custom_op`` kernels then
        serve every session of the process; a native library raises InvalidArgument (see onyx.plugins)."""
        from onyx.plugins import load_custom_ops_library

        load_custom_ops_library(library_path)


class RunOptions:
    """Per-run options, accepted for compatibility; onyx does not act on them yet."""

    def __init__(self) -> None:
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.run_tag = ""
        self.only_execute_path_to_fetches = False
        self.terminate = False
        self._config: dict[str, str] = {}

    def add_run_config_entry(self, key: str, value: str) -> None:
        self._config[key] = str(value)

    def get_run_config_entry(self, key: str) -> str:
        return self._config[key]
