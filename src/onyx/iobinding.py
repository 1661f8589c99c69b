"""IOBinding: inputs and outputs bound to a session once, then run many times (onnxruntime's API).

Inputs are bound by reference (a later change to a bound array is seen by the next run);
outputs are produced fresh by each run, or written into a bound OrtValue or buffer. Inputs
and outputs may live on a CUDA device (as torch tensors, onyx.devices): where a provider of the
session runs on that device they reach it and leave it without copies, so values bound there
stay there between runs.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from onyx import devices
from onyx.errors import DeviceUnavailable, InvalidArgument, NotFound
from onyx.ortvalue import OrtValue, _as_element_dtype, placement


def _array_at(buffer_ptr: int, element_type: Any, shape: Any) -> np.ndarray:
    """A NumPy array over caller-owned CPU memory (the caller keeps it alive, as in onnxruntime)."""
    dtype = _as_element_dtype(element_type)
    dims = [int(d) for d in shape]
    count = int(np.prod(dims, dtype=np.int64))
    if count == 0:
        return np.zeros(dims, dtype)
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(int(buffer_ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


class _CudaMemory:
    """Caller-owned CUDA memory described by the CUDA array interface, which torch wraps without a copy."""

    def __init__(self, buffer_ptr: int, dtype: np.dtype, dims: list[int]):
        self.__cuda_array_interface__ = {
            "shape": tuple(dims), "typestr": dtype.str, "data": (int(buffer_ptr), False), "version": 3,
        }


def _value_at(device_type: str, device_id: int, element_type: Any, shape: Any, buffer_ptr: int) -> OrtValue:
    """An OrtValue over caller-owned memory at ``buffer_ptr`` on the CPU or a CUDA device."""
    target = placement(device_type, device_id)
    if target is None:
        return OrtValue(_array_at(buffer_ptr, element_type, shape))
    import torch

    dtype = _as_element_dtype(element_type)
    dims = [int(d) for d in shape]
    stored = np.dtype(np.int16) if dtype == devices.numpy_dtype(torch.bfloat16) else dtype
    tensor = torch.as_tensor(_CudaMemory(buffer_ptr, stored, dims), device=target)
    return OrtValue(tensor.view(torch.bfloat16) if stored != dtype else tensor, "cuda")


class IOBinding:
    """Bindings of one session's inputs and outputs; run them with ``session.run_with_iobinding``."""

    def __init__(self, session: Any):
        self._session = session
        self._input_names = {arg.name for arg in session.get_inputs() + session.get_overridable_initializers()}
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, OrtValue | None] = {}  # a value to write into, or None: a new one
        self._output_devices: dict[str, Any] = {}  # torch device of outputs asked on a device
        self._results: list[OrtValue] = []

    # -- inputs -------------------------------------------------------------------

    def _bind_input(self, name: str, value: Any) -> None:
        if name not in self._input_names:
            raise NotFound(f"Failed to find NodeArg with name: {name} in the def list")
        self._inputs[name] = value

    def bind_cpu_input(self, name: str, arr_on_cpu: np.ndarray) -> None:
        self._bind_input(name, arr_on_cpu)

    def bind_input(self, name: str, device_type: str, device_id: int, element_type: Any, shape: Any, buffer_ptr: int) -> None:
        """Bind input ``name`` to caller-owned memory on the CPU or a CUDA device (shared, not copied)."""
        self._bind_input(name, _value_at(device_type, device_id, element_type, shape, buffer_ptr))

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        self._bind_input(name, ortvalue)

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    def synchronize_inputs(self) -> None:
        """Wait until the bound inputs on CUDA devices are written (the devices' queued work is done)."""
        _synchronize(self._inputs.values())

    # -- outputs ------------------------------------------------------------------

    def bind_output(
        self, name: str, device_type: str = "cpu", device_id: int = 0, element_type: Any = None, shape: Any = None, buffer_ptr: int | None = None
    ) -> None:
        """Request output ``name`` on a device (the CPU by default); with ``buffer_ptr`` (and its
        element type and shape), write it there, else a new value is made on that device (on the
        CPU where this process cannot use the device, as onnxruntime's CPU package does)."""
        if buffer_ptr is None:
            try:
                target = placement(device_type, device_id)
            except DeviceUnavailable:
                target = None
            self._outputs[name] = None
        elif element_type is None or shape is None:
            raise InvalidArgument(f"bind_output('{name}'): a buffer_ptr needs its element_type and shape")
        else:
            self._outputs[name] = _value_at(device_type, device_id, element_type, shape, buffer_ptr)
            target = placement(device_type, device_id)
        self._set_device(name, target)

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        """Write output ``name`` into ``ortvalue`` (on its device) at each run."""
        self._outputs[name] = ortvalue
        self._set_device(name, ortvalue._value.device if devices.is_device_tensor(ortvalue._value) else None)

    def _set_device(self, name: str, target: Any) -> None:
        if target is None:
            self._output_devices.pop(name, None)
        else:
            self._output_devices[name] = target

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()
        self._output_devices.clear()
        self._results = []

    def synchronize_outputs(self) -> None:
        """Wait until the outputs of the last run on CUDA devices are written."""
        _synchronize(self._results)

    def get_outputs(self) -> list[OrtValue]:
        """The outputs of the last run, in the order they were bound, on the devices they were bound to."""
        return list(self._results)

    def get_outputs_as_ortvaluevector(self) -> list[OrtValue]:
        return self.get_outputs()

    def copy_outputs_to_cpu(self) -> list[Any]:
        """The outputs of the last run as NumPy arrays (copies; device values are copied from the device)."""
        return [value.numpy().copy() if isinstance(value._value, np.ndarray) else value.numpy() for value in self._results]

    # -- running ------------------------------------------------------------------

    def run(self, run_options: Any = None) -> None:
        """Run the session on the bound inputs; store (or write) the bound outputs."""
        if not self._outputs:
            raise InvalidArgument("At least one output should be requested.")
        names = list(self._outputs)
        results = self._session._run_on_devices(names, dict(self._inputs), self._output_devices, run_options)
        self._results = [self._place(name, value) for name, value in zip(names, results)]

    def _place(self, name: str, value: Any) -> OrtValue:
        target = self._outputs[name]
        if target is None:
            return OrtValue._on_device(value) if devices.is_device_tensor(value) else OrtValue(value)
        tensor = target._tensor()
        shape = list(value.shape) if isinstance(value, np.ndarray) or devices.is_device_tensor(value) else None
        if shape != list(tensor.shape) or OrtValue(value).element_type() != target.element_type():
            got = f"shape {shape} ({OrtValue(value).data_type()})" if shape is not None else type(value).__name__
            raise InvalidArgument(
                f"the output OrtValue bound for '{name}' has shape {list(tensor.shape)} ({target.data_type()}), "
                f"but this run computed {got}"
            )
        if isinstance(tensor, np.ndarray):
            np.copyto(tensor, value)
        else:
            tensor.copy_(value)
        return target


def _synchronize(values: Any) -> None:
    """Wait for the CUDA devices holding any of ``values`` (OrtValues or arrays)."""
    for device in {v._value.device for v in values if isinstance(v, OrtValue) and devices.is_device_tensor(v._value)}:
        if device.type == "cuda":
            import torch

            torch.cuda.synchronize(device)
