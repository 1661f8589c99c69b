"""TorchExecutionProvider: each partition runs as one torch.fx.GraphModule, on the CPU or a
CUDA device, optionally through torch.compile or captured as a CUDA graph."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

from onyx.errors import InvalidArgument
from onyx.model.graph import Graph, Node
from onyx.providers.base import ExecutionProvider, Partition
from onyx.providers.torch.conversion import Call, convert_graph
from onyx.providers.torch.dtypes import to_numpy, to_tensor
from onyx.providers.torch.graph_module import build_from_calls

TORCH = "TorchExecutionProvider"
_LOW_PRECISION = {"bfloat16": torch.bfloat16, "float16": torch.float16}
_TRUE = {"1", "true", "True", "yes", "on"}


def _flag(options: Mapping[str, Any], key: str) -> bool:
    value = options.get(key, False)
    return value in _TRUE if isinstance(value, str) else bool(value)


def parse_device(text: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' as a torch device (InvalidArgument for anything else)."""
    text = str(text).strip().lower()
    if text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return torch.device("cuda:0" if text == "cuda" else text)
    raise InvalidArgument(f"TorchExecutionProvider: device '{text}' is not one of 'cpu', 'cuda', 'cuda:N'")


class TorchExecutionProvider(ExecutionProvider):
    """Runs the nodes it converts exactly with PyTorch (onyx.providers.torch.converters).

    Options: ``device`` ('cpu', 'cuda', 'cuda:N'; default 'cpu'), ``dtype`` ('keep', or on
    CUDA 'bfloat16' / 'float16': float32 values computed in that type inside partitions),
    ``compile`` (torch.compile each partition: '1', or a torch.compile backend name such as
    'inductor' or 'eager'), ``cuda_graphs`` (replay a captured CUDA graph
    while input shapes stay those of the capture).
    """

    name = TORCH

    def __init__(self, options: Mapping[str, Any] | None = None):
        super().__init__(options)
        unknown = set(self.options) - {"device", "dtype", "compile", "cuda_graphs", "device_id"}
        if unknown:
            raise InvalidArgument(f"TorchExecutionProvider: unknown option(s) {sorted(unknown)}")
        self.torch_device = parse_device(self.options.get("device", "cpu"))
        if self.torch_device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidArgument(f"TorchExecutionProvider: device '{self.torch_device}' asked for, "
                                  "but torch.cuda is not available")
        dtype = str(self.options.get("dtype", "keep"))
        if dtype != "keep" and dtype not in _LOW_PRECISION:
            raise InvalidArgument(f"TorchExecutionProvider: dtype '{dtype}' is not 'keep', 'bfloat16' or 'float16'")
        if dtype != "keep" and self.torch_device.type != "cuda":
            raise InvalidArgument(f"TorchExecutionProvider: dtype '{dtype}' is for CUDA devices only")
        self.compute_dtype = _LOW_PRECISION.get(dtype)
        compile_option = str(self.options.get("compile", "0"))
        self.compile_backend = None if compile_option in ("0", "false", "False", "") else (
            "inductor" if compile_option in _TRUE else compile_option)
        self.cuda_graphs = _flag(self.options, "cuda_graphs")
        if self.cuda_graphs and self.torch_device.type != "cuda":
            raise InvalidArgument("TorchExecutionProvider: cuda_graphs needs a CUDA device")
        self._calls: dict[int, Call] = {}
        # the plan's name of where values live: never the host's, since its values are tensors
        self.device = "torch:cpu" if self.torch_device.type == "cpu" else str(self.torch_device)

    def capability(self, graph: Graph, opset: Mapping[str, int]) -> Iterable[Node]:
        calls, _ = convert_graph(graph, opset)
        self._calls.update(calls)
        return [node for node in graph.nodes if id(node) in calls]

    def compile(self, partition: Partition, graph: Graph) -> Callable[..., tuple]:
        calls = []
        for node in partition.nodes:
            call = self._calls.get(id(node))
            if call is None or call.node is not node:
                raise InvalidArgument(f"TorchExecutionProvider: {node.describe()} was not claimed by this provider")
            calls.append(call)
        module = build_from_calls(calls, partition.inputs, partition.outputs, device=self.torch_device)
        return PartitionRunner(module, self.compute_dtype, self.compile_backend, self.cuda_graphs)

    def to_device(self, value: Any) -> Any:
        if isinstance(value, (np.ndarray, np.generic)):
            tensor = to_tensor(np.asarray(value), self.torch_device)
            if self.compute_dtype is not None and tensor.dtype == torch.float32:
                tensor = tensor.to(self.compute_dtype)  # once per copy (weights: once per session)
            return tensor
        return value

    def to_host(self, value: Any) -> Any:
        return to_numpy(value) if isinstance(value, torch.Tensor) else value


class PartitionRunner:
    """Calls a partition's GraphModule without autograd, in the compute dtype asked for (its
    float32 inputs cast to it, its outputs of that type cast back to float32)."""

    def __init__(self, module: torch.fx.GraphModule, compute_dtype: torch.dtype | None, compile_backend: str | None,
                 cuda_graphs: bool):
        self.module = module
        self.compute_dtype = compute_dtype
        self._forward: Callable[..., Any] = module
        if compile_backend is not None:
            self._forward = torch.compile(module, backend=compile_backend, dynamic=None)
        self._graphs = CudaGraphs(self._forward) if cuda_graphs else None

    def __call__(self, *args: Any) -> tuple:
        low = self.compute_dtype
        if low is not None:
            args = tuple(a.to(low) if isinstance(a, torch.Tensor) and a.dtype == torch.float32 else a for a in args)
        with torch.inference_mode():
            outputs = self._graphs(*args) if self._graphs is not None else self._forward(*args)
        if low is not None:
            outputs = tuple(o.float() if isinstance(o, torch.Tensor) and o.dtype == low else o for o in outputs)
        return tuple(outputs)


class CudaGraphs:
    """Replays a CUDA graph captured per input signature (shapes and dtypes); the captured
    outputs are cloned, since the next replay overwrites them."""

    def __init__(self, forward: Callable[..., Any]):
        self.forward = forward
        self._captured: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], Any] | None] = {}

    def __call__(self, *args: Any) -> Any:
        if not all(isinstance(a, torch.Tensor) and a.is_cuda for a in args):
            return self.forward(*args)
        key = tuple((tuple(a.shape), a.dtype) for a in args)
        if key not in self._captured:
            self._captured[key] = self._capture(args)
        entry = self._captured[key]
        if entry is None:  # the partition cannot be captured (it reads values on the host)
            return self.forward(*args)
        graph, static, out = entry
        for target, value in zip(static, args):
            target.copy_(value)
        graph.replay()
        return tuple(o.clone() for o in out)

    def _capture(self, args: tuple) -> tuple[torch.cuda.CUDAGraph, list[torch.Tensor], Any] | None:
        static = [a.clone() for a in args]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.forward(*static)  # warm-up outside the capture, as CUDA graphs require
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                out = self.forward(*static)
        except RuntimeError:  # shapes computed on the host (a sync) cannot be captured
            return None
        return graph, static, out


# onnxruntime's CUDA provider options: device_id and enable_cuda_graph mean what they say there;
# the others tune onnxruntime's own CUDA kernels and memory arena, and are accepted and ignored
_CUDA_IGNORED = {
    "gpu_mem_limit", "arena_extend_strategy", "cudnn_conv_algo_search", "do_copy_in_default_stream",
    "cudnn_conv_use_max_workspace", "cudnn_conv1d_pad_to_nc1d", "tunable_op_enable", "tunable_op_tuning_enable",
    "tunable_op_max_tuning_duration_ms", "enable_skip_layer_norm_strict_mode", "prefer_nhwc", "use_tf32",
    "use_ep_level_unified_stream", "has_user_compute_stream", "user_compute_stream", "gpu_external_alloc",
    "gpu_external_free", "gpu_external_empty_cache", "sdpa_kernel", "fuse_conv_bias",
}


class CUDAExecutionProvider(TorchExecutionProvider):
    """onnxruntime's name for running on an NVIDIA GPU: the Torch provider on ``cuda:<device_id>``.
    Listed by get_available_providers() only where torch sees a CUDA device, so that sessions
    asking for it elsewhere warn and fall back to the CPU, as onnxruntime's do."""

    name = "CUDAExecutionProvider"

    def __init__(self, options: Mapping[str, Any] | None = None):
        options = dict(options or {})
        unknown = set(options) - _CUDA_IGNORED - {"device_id", "enable_cuda_graph", "dtype", "compile"}
        if unknown:
            raise InvalidArgument(f"CUDAExecutionProvider: unknown option(s) {sorted(unknown)}")
        device_id = str(options.get("device_id", 0))
        if not device_id.isdigit():
            raise InvalidArgument(f"CUDAExecutionProvider: device_id '{device_id}' is not a device number")
        torch_options = {"device": f"cuda:{device_id}", "cuda_graphs": _flag(options, "enable_cuda_graph")}
        torch_options.update({k: options[k] for k in ("dtype", "compile") if k in options})
        super().__init__(torch_options)
        self.options = options
