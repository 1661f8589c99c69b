"""The onnx.backend interface: ``onyx.backend.prepare(model).run(inputs)``.

``device="CUDA:N"`` runs the model on the Torch provider on ``cuda:N`` (nodes it does not claim
on the CPU); it is supported where PyTorch sees a CUDA GPU (``supports_device("CUDA")``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import ModelProto, NodeProto, helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from onyx import devices
from onyx.providers import CPU, get_available_providers
from onyx.session import InferenceSession

TORCH = "TorchExecutionProvider"


class OnyxRep(BackendRep):
    """A prepared model. ``run`` takes inputs as a list (in graph-input order) or a dict."""

    def __init__(self, session: InferenceSession):
        self.session = session
        self._input_names = [i.name for i in session.get_inputs()]
        self._output_names = [o.name for o in session.get_outputs()]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, dict):
            feeds = inputs
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            overridable = [i.name for i in self.session.get_overridable_initializers()]
            feeds = dict(zip(self._input_names + overridable, inputs))
        outputs = self.session.run(None, feeds)
        return namedtupledict("Outputs", self._output_names)(*outputs)


class OnyxBackend(Backend):
    """onnx.backend.base.Backend implemented by onyx's CPU runtime."""

    @classmethod
    def is_compatible(cls, model: ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: ModelProto | bytes | str, device: str = "CPU", **kwargs: Any) -> OnyxRep:
        """A session for ``model`` on ``device`` ("CPU" or "CUDA:N"); ``sess_options`` (an
        onyx.SessionOptions) may be passed."""
        if not cls.supports_device(device):
            raise ValueError(f"onyx cannot run on device '{device}'")
        parsed = Device(device)
        providers: list = [CPU]
        if parsed.type == DeviceType.CUDA:
            providers = [(TORCH, {"device": f"cuda:{parsed.device_id or 0}"}), CPU]
        return OnyxRep(InferenceSession(model, kwargs.get("sess_options"), providers=providers))

    @classmethod
    def run_model(cls, model: ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls, node: NodeProto, inputs: Any, device: str = "CPU", outputs_info: Any = None, **kwargs: Any
    ) -> tuple[Any, ...]:
        """Run one node on ``inputs`` (a list aligned with node.input, or a dict)."""
        values = inputs if isinstance(inputs, dict) else dict(zip([n for n in node.input if n], inputs))
        graph_inputs = [
            helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v))
            for name, v in values.items()
        ]
        graph_outputs = [helper.make_empty_tensor_value_info(name) for name in node.output if name]
        graph = helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opset = kwargs.get("opset_version")
        opsets = [helper.make_opsetid(node.domain or "", opset)] if opset else None
        model = helper.make_model(graph, opset_imports=opsets) if opsets else helper.make_model(graph)
        return cls.prepare(model, device).run(values)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """"CPU" always; "CUDA" where the Torch provider is installed and PyTorch sees a GPU."""
        kind = Device(device).type
        if kind == DeviceType.CUDA:
            return TORCH in get_available_providers() and devices.cuda_usable()
        return kind == DeviceType.CPU


is_compatible = OnyxBackend.is_compatible
prepare = OnyxBackend.prepare
run_model = OnyxBackend.run_model
run_node = OnyxBackend.run_node
supports_device = OnyxBackend.supports_device
