"""InferenceSession: load -> plan -> run, with onnxruntime's Python API."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ContextManager

import numpy as np
import onnx
from onnx import TypeProto

from onyx import compiled, devices
from onyx.errors import InvalidArgument, InvalidGraph, MemoryLimitExceeded
from onyx.model.graph import Model, ValueInfo
from onyx.model.loader import ModelSource, load_model
from onyx.model.save import model_to_proto
from onyx.ops import threads as intra_op_threads
from onyx.optimizer import declutter
from onyx.optimizer.codegen import codegen
from onyx.optimizer.nchwc import unblock_nchwc
from onyx.optimizer.portable import portable
from onyx.options import (
    ADAPT_THREADS_TO_LOAD,
    PROCESS_MALLOC_TUNING,
    PROCESS_REGULAR_PAGES,
    ExecutionMode,
    GraphOptimizationLevel,
    RunOptions,
    SessionOptions,
)
from onyx.providers import CPU, create_providers, get_available_providers
from onyx.providers.base import PartitionSummary
from onyx.runtime import arena, contention, pages
from onyx.runtime import control as run_control
from onyx.runtime.feeds import FeedChecker
from onyx.ortvalue import OrtValue
from onyx.runtime.placement import DevicePlans
from onyx.runtime.plan import Plan
from onyx.value_runs import ValueRuns


class NodeArg:
    """A graph input or output as onnxruntime describes it: name, shape, type string."""

    def __init__(self, info: ValueInfo):
        self.name = info.name
        self.type = info.type_str
        shape = info.shape
        self.shape = [] if shape is None else [d for d in shape]

    def __repr__(self) -> str:
        return f"NodeArg(name='{self.name}', type='{self.type}', shape={self.shape})"


class ModelMetadata:
    """What get_modelmeta() returns: the model's producer, names and custom metadata."""

    def __init__(self, model: Model):
        self.producer_name = model.producer_name
        self.graph_name = model.graph.name
        self.domain = model.domain
        self.description = model.doc_string
        self.graph_description = model.graph.doc_string
        self.version = model.model_version
        self.custom_metadata_map = dict(model.metadata)


def _choose_providers(providers: Sequence[Any] | None, provider_options: Sequence[dict] | None) -> tuple[list[str], list[dict]]:
    available = get_available_providers()
    names: list[str] = []
    options: list[dict] = []
    for i, entry in enumerate(providers or [CPU]):
        name, opts = (entry if isinstance(entry, tuple) else (entry, None))
        if opts is None and provider_options and i < len(provider_options):
            opts = provider_options[i]
        if name not in available:
            warnings.warn(
                f"Specified provider '{name}' is not in available provider names. "
                f"Available providers: {', '.join(repr(p) for p in available)}",
                stacklevel=3,
            )
            continue
        names.append(name)
        options.append(dict(opts or {}))
    cpu_options = options[names.index(CPU)] if CPU in names else {}
    # the CPU provider runs what nothing listed before it claims, so it is always last
    options = [o for n, o in zip(names, options) if n != CPU] + [cpu_options]
    names = [n for n in names if n != CPU] + [CPU]
    return names, options


def _fix_dims(info: ValueInfo, overrides: dict[str, int], by_denotation: dict[str, int]) -> ValueInfo:
    """A copy of ``info`` whose free dims named in ``overrides`` (or denoted as in
    ``by_denotation``) are fixed."""
    if not (overrides or by_denotation) or not info.is_tensor or not info.type.tensor_type.HasField("shape"):
        return info
    tp = TypeProto()
    tp.CopyFrom(info.type)
    for dim in tp.tensor_type.shape.dim:
        if dim.WhichOneof("value") == "dim_value" and dim.dim_value >= 0:
            continue
        if dim.WhichOneof("value") == "dim_param" and dim.dim_param in overrides:
            dim.dim_value = overrides[dim.dim_param]
        elif dim.denotation in by_denotation:
            dim.dim_value = by_denotation[dim.denotation]
    return ValueInfo(info.name, tp)


def _thread_limit(threads: int, adapt_to_load: bool) -> Callable[[], ContextManager[Any]]:
    """A context factory limiting a run to ``threads`` threads: the BLAS library's and those of
    onyx's parallel kernels (see onyx.ops.threads). 0: one per CPU, or with ``adapt_to_load``
    the CPUs that other processes leave free."""
    if threads <= 0:
        return _free_cpus_limit() if adapt_to_load else (lambda: intra_op_threads.limit(0))
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()

    @contextlib.contextmanager
    def limited():
        with intra_op_threads.limit_blas(controller, threads), intra_op_threads.limit(threads):
            yield

    return limited


def _free_cpus_limit() -> Callable[[], ContextManager[Any]]:
    """A context factory giving a run the CPUs this process may use that other processes leave
    free (onyx.runtime.contention): all of them on an idle machine, where nothing is limited."""
    controllers: list[Any] = []

    @contextlib.contextmanager
    def limited():
        usable = intra_op_threads.usable_cpus()
        free = contention.free_cpus(usable)
        if free >= usable:
            with intra_op_threads.limit(0):
                yield
            return
        if not controllers:
            from threadpoolctl import ThreadpoolController

            controllers.append(ThreadpoolController())
        with intra_op_threads.limit_blas(controllers[0], free), intra_op_threads.limit(free):
            yield

    return limited


def _freeze_ir3_initializers(model: Model) -> None:
    """Before IR version 4 every initializer had to be listed as a graph input too; such
    models mean them as constants (as onnxruntime treats them), not as overridable inputs."""
    if model.ir_version >= 4:
        return
    graph = model.graph
    graph.inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    model.ir_version = 4


def _owned(value: Any) -> Any:
    """An output the caller may keep and modify: views of feeds, initializers or
    read-only buffers are copied (as onnxruntime returns fresh arrays)."""
    if isinstance(value, np.ndarray) and not (value.flags.owndata and value.flags.writeable):
        try:
            return value.copy()
        except MemoryError:
            raise MemoryLimitExceeded(
                f"an output of shape {list(value.shape)} and type {value.dtype} ({value.size * value.itemsize} bytes) "
                "does not fit in memory"
            ) from None
    return value


def _owned_outputs(values: list[Any], feeds: dict[str, Any]) -> list[Any]:
    """The outputs as arrays the caller owns, none sharing memory with another or with a
    feed (two graph outputs may be one array: Y and Identity(Y))."""
    seen = {id(value) for value in feeds.values()}
    owned = []
    for value in values:
        value = _owned(value)
        if isinstance(value, np.ndarray) and id(value) in seen:
            value = value.copy()
        seen.add(id(value))
        owned.append(value)
    return owned


class InferenceSession(ValueRuns):
    """Loads a model once and runs it many times.

    ``path_or_bytes`` is a file path, the serialized model or an ``onnx.ModelProto``, or a
    model hub reference, ``hub:NAME`` or ``hf://ORG/REPO/FILE.onnx`` (see onyx.hub).
    OrtValue, IOBinding and asynchronous runs come from :class:`onyx.value_runs.ValueRuns`.
    """

    def __init__(
        self,
        path_or_bytes: ModelSource,
        sess_options: SessionOptions | None = None,
        providers: Sequence[Any] | None = None,
        provider_options: Sequence[dict] | None = None,
        **kwargs: Any,
    ):
        started_ns = time.perf_counter_ns()
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        self._limits = run_control.RunLimits(self._sess_options._config)
        config = self._sess_options._config
        if config.get(PROCESS_MALLOC_TUNING) == "1":
            arena.enable()
        self._providers, self._provider_options = _choose_providers(providers, provider_options)
        self._source = path_or_bytes
        with pages.regular_pages() if config.get(PROCESS_REGULAR_PAGES) == "1" else contextlib.nullcontext():
            try:
                self._prepare(path_or_bytes)
            except RecursionError:
                raise InvalidGraph("the model nests subgraphs or function calls too deeply to be loaded") from None
        self._thread_limit = _thread_limit(self._sess_options.intra_op_num_threads,
                                           config.get(ADAPT_THREADS_TO_LOAD) == "1")
        self._profiler = None
        if self._sess_options.enable_profiling:
            from onyx.runtime.profiling import TraceRecorder

            self._profiler = TraceRecorder(self._sess_options.profile_file_prefix or "onyx_profile", started_ns)
            self._profiler.session_event("session_initialization", started_ns, time.perf_counter_ns())

    def _prepare(self, path_or_bytes: ModelSource) -> None:
        """Load, optimize for the providers (and save where asked) the model, and compile its plan:
        declutter, partition, each provider's fusions on its partitions, then the plan."""
        self._model = unblock_nchwc(load_model(path_or_bytes))
        self._apply_initializer_overrides()
        _freeze_ir3_initializers(self._model)
        level = self._sess_options.graph_optimization_level
        compiled_kernels = compiled.wanted(self._sess_options._config.get(compiled.COMPILED_KERNELS_KEY))
        providers = create_providers(self._providers, self._provider_options, compiled_kernels)
        if level > GraphOptimizationLevel.ORT_DISABLE_ALL:
            self._model, _ = declutter(self._model, level)
            codegen(self._model, level, providers)
        if self._sess_options.optimized_model_filepath:
            onnx.save(model_to_proto(portable(self._model)), self._sess_options.optimized_model_filepath)
        graph = self._model.graph
        overrides = self._sess_options._free_dimension_overrides
        initializers = graph.initializers
        by_denotation = self._sess_options._free_dimension_overrides_by_denotation
        self._inputs = [_fix_dims(v, overrides, by_denotation) for v in graph.inputs if v.name not in initializers]
        self._overridable = [v for v in graph.inputs if v.name in initializers]
        self._outputs = list(graph.outputs)
        self._feeds = FeedChecker(self._inputs, self._overridable)
        self._plan = Plan(graph, self._model.opset, functions=self._model.functions, providers=providers)
        self._device_plans: DevicePlans | None = None  # IOBinding's plans for values kept on devices
        self._run_steps = self._plan.run
        if self._sess_options.execution_mode == ExecutionMode.ORT_PARALLEL:
            from onyx.runtime.parallel import ParallelRunner

            self._run_steps = ParallelRunner(self._plan, self._sess_options.inter_op_num_threads).run

    def _apply_initializer_overrides(self) -> None:
        graph = self._model.graph
        for name, value in self._sess_options._initializers.items():
            if name not in graph.initializers:
                raise InvalidArgument(f"add_initializer: the model has no initializer named '{name}'")
            graph.initializers[name] = np.asarray(value)

    # -- onnxruntime's API ------------------------------------------------------

    def run(self, output_names: Sequence[str] | None, input_feed: dict[str, Any], run_options: RunOptions | None = None) -> list[Any]:
        """Run the model; returns the values of ``output_names`` (all outputs when None), in order."""
        feeds = self._feeds.check(input_feed)
        self._check_output_names(output_names)
        if any(type(value) is OrtValue for value in feeds.values()):  # tensors on a device
            return self._run_on_devices(output_names or self._plan.output_names, input_feed, {}, run_options)
        results = self._run_plan(feeds, None, run_options)
        if not output_names:
            return results
        by_name = dict(zip(self._plan.output_names, results))
        return [by_name[name] for name in output_names]

    def _run_plan(self, feeds: dict[str, Any], observer: Any, run_options: RunOptions | None,
                  run_steps: Callable[..., list[Any]] | None = None) -> list[Any]:
        """Run the plan (or ``run_steps``, a placed plan's run) on checked feeds, within the
        session's thread limit and the run's limits (see onyx.runtime.control)."""
        limits = self._limits if run_options is None else self._limits.for_run(run_options._config)
        control = run_control.RunControl(run_options, limits)
        control.check()
        with self._thread_limit(), run_control.running(control):
            return self._run_plan_unlimited(feeds, observer, run_steps or self._run_steps)

    def _run_plan_unlimited(self, feeds: dict[str, Any], observer: Any, run_steps: Callable[..., list[Any]]) -> list[Any]:
        """Run the plan on checked feeds, recording trace events when profiling is on."""
        inputs = [feeds.get(name, self._model.graph.initializers.get(name)) for name in self._plan.input_names]
        if self._profiler is None:
            return _owned_outputs(run_steps(inputs, observer=observer), feeds)
        record = self._profiler.observer()

        def observe(node: Any, values: list[Any], seconds: float) -> None:
            record(node, values, seconds)
            if observer is not None:
                observer(node, values, seconds)

        started = time.perf_counter_ns()
        results = _owned_outputs(run_steps(inputs, observer=observe), feeds)
        self._profiler.session_event("model_run", started, time.perf_counter_ns())
        return results

    def _run_on_devices(self, output_names: Sequence[str], input_feed: dict[str, Any],
                        output_devices: dict[str, Any], run_options: RunOptions | None = None) -> list[Any]:
        """``run`` for IOBinding: feeds may be OrtValues on a device, and ``output_devices`` maps
        outputs to the torch device they are wanted on. A value stays on its device where a
        provider of the session runs there (onyx.runtime.placement); elsewhere it is copied."""
        feeds = self._feeds.check(input_feed)
        self._check_output_names(output_names)
        if self._device_plans is None:
            self._device_plans = DevicePlans(self._plan)
        on_devices, wanted = {}, {}
        for name, value in feeds.items():
            if isinstance(value, OrtValue):  # a device value: host OrtValues are arrays by now
                device = self._device_plans.plan_device(value._value.device)
                feeds[name] = value.numpy() if device is None else value._value
                if device is not None:
                    on_devices[name] = device
        for name, target in output_devices.items():
            if (device := self._device_plans.plan_device(target)) is not None:
                wanted[name] = device
        run_steps = self._device_plans.placed(on_devices, wanted).run if on_devices or wanted else None
        by_name = dict(zip(self._plan.output_names, self._run_plan(feeds, None, run_options, run_steps)))
        declared = {v.name: v.dtype for v in self._outputs}
        fed = [id(value) for value in feeds.values()]
        return [devices.placed_result(by_name[name], output_devices.get(name), declared.get(name), fed)
                for name in output_names]

    def run_with_intermediates(
        self, output_names: Sequence[str] | None, input_feed: dict[str, Any], run_options: RunOptions | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Like :meth:`run`, and also returns every value the main graph's nodes produce.

        Returns ``(outputs, intermediates)``: ``outputs`` as ``run`` returns them, and
        ``intermediates`` a dict from value name to value, in the order the nodes ran
        (graph outputs included; values inside subgraphs and functions are not). These are
        the values of the graph as optimized: set graph_optimization_level to ORT_DISABLE_ALL
        to see every value of the graph as saved.
        An onyx extension: onnxruntime has no equivalent.
        """
        intermediates: dict[str, Any] = {}

        def keep(node: Any, values: list[Any], seconds: float) -> None:
            for name, value in zip(node.outputs, values):
                if name:
                    intermediates[name] = _owned(value)

        feeds = self._feeds.check(input_feed)
        self._check_output_names(output_names)
        results = self._run_plan(feeds, keep, run_options)
        if output_names:
            by_name = dict(zip(self._plan.output_names, results))
            results = [by_name[name] for name in output_names]
        return results, intermediates

    def end_profiling(self) -> str:
        """Write the Chrome-trace profile (``{profile_file_prefix}_{timestamp}.json``) and return
        its file name; "" when ``SessionOptions.enable_profiling`` was off. Profiling stops."""
        if self._profiler is None:
            return ""
        path = self._profiler.write()
        self._profiler = None
        return path

    def get_profiling_start_time_ns(self) -> int:
        """When profiling started (nanoseconds since the epoch); 0 when profiling is off."""
        return self._profiler.start_wall_ns if self._profiler is not None else 0

    def _check_output_names(self, output_names: Sequence[str] | None) -> None:
        known = set(self._plan.output_names)
        for name in output_names or ():
            if name not in known:
                raise InvalidArgument(
                    f"unknown output name '{name}'; the model's outputs are: "
                    + ", ".join(repr(n) for n in self._plan.output_names)
                )

    def get_inputs(self) -> list[NodeArg]:
        return [NodeArg(v) for v in self._inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [NodeArg(v) for v in self._outputs]

    def get_overridable_initializers(self) -> list[NodeArg]:
        return [NodeArg(v) for v in self._overridable]

    def get_modelmeta(self) -> ModelMetadata:
        return ModelMetadata(self._model)

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_provider_options(self) -> dict[str, dict]:
        """Each provider's options as it applies them, values as strings (onnxruntime's form):
        the CPU provider takes none, so its entry is empty."""
        return {
            name: {} if name == CPU else {str(k): str(v) for k, v in opts.items()}
            for name, opts in zip(self._providers, self._provider_options)
        }

    def get_session_options(self) -> SessionOptions:
        return self._sess_options

    def disable_fallback(self) -> None:
        """Accepted for compatibility: nodes no provider claims always fall back to the CPU."""

    def enable_fallback(self) -> None:
        """Accepted for compatibility: nodes no provider claims always fall back to the CPU."""

    def get_tuning_results(self) -> list[dict]:
        """Kernel tuning results (onnxruntime's TunableOp): onyx tunes nothing, so none."""
        return []

    def set_tuning_results(self, results: Sequence[dict], error_on_invalid: bool = False) -> None:
        """Accepted for compatibility: onyx tunes nothing."""

    def set_providers(self, providers: Sequence[Any] | None = None, provider_options: Sequence[dict] | None = None) -> None:
        """Run with other providers from now on: the session is prepared again from its model
        (as onnxruntime does), since partitions and provider fusions depend on the providers."""
        self._providers, self._provider_options = _choose_providers(providers, provider_options)
        with pages.regular_pages():
            self._prepare(self._source)

    def get_provider_assignment(self) -> list[PartitionSummary]:
        """Which provider runs which nodes: one summary per partition of the main graph and of
        every subgraph and function body, in execution order. An onyx extension."""
        return self._plan.assignment()
