"""IOBinding: inputs and outputs bound to a session once, then run many times (onnxruntime's API).

Inputs are bound by reference (a later change to a bound array is seen by the next run);
outputs are produced fresh by each run, or written into a bound OrtValue or buffer.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument, NotFound
from onyx.ortvalue import OrtValue, _as_element_dtype, check_device


def _array_at(buffer_ptr: int, element_type: Any, shape: Any) -> np.ndarray:
    """A NumPy array over caller-owned CPU memory (the caller keeps it alive, as in onnxruntime)."""
    dtype = _as_element_dtype(element_type)
    dims = [int(d) for d in shape]
    count = int(np.prod(dims, dtype=np.int64))
    if count == 0:
        return np.zeros(dims, dtype)
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(int(buffer_ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


class IOBinding:
    """Bindings of one session's inputs and outputs; run them with ``session.run_with_iobinding``."""

    def __init__(self, session: Any):
        self._session = session
        self._input_names = {arg.name for arg in session.get_inputs() + session.get_overridable_initializers()}
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, OrtValue | None] = {}
        self._results: list[OrtValue] = []

    # -- inputs -------------------------------------------------------------------

    def _bind_input(self, name: str, value: Any) -> None:
        if name not in self._input_names:
            raise NotFound(f"Failed to find NodeArg with name: {name} in the def list")
        self._inputs[name] = value

    def bind_cpu_input(self, name: str, arr_on_cpu: np.ndarray) -> None:
        self._bind_input(name, arr_on_cpu)

    def bind_input(self, name: str, device_type: str, device_id: int, element_type: Any, shape: Any, buffer_ptr: int) -> None:
        check_device(device_type, device_id)
        self._bind_input(name, _array_at(buffer_ptr, element_type, shape))

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        self._bind_input(name, ortvalue)

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    def synchronize_inputs(self) -> None:
        """Nothing to wait for: values live on the CPU."""

    # -- outputs ------------------------------------------------------------------

    def bind_output(
        self, name: str, device_type: str = "cpu", device_id: int = 0, element_type: Any = None, shape: Any = None, buffer_ptr: int | None = None
    ) -> None:
        """Request output ``name``; with ``buffer_ptr`` (and its element type and shape), write it there."""
        check_device(device_type, device_id)
        if buffer_ptr is None:
            self._outputs[name] = None
            return
        if element_type is None or shape is None:
            raise InvalidArgument(f"bind_output('{name}'): a buffer_ptr needs its element_type and shape")
        self._outputs[name] = OrtValue(_array_at(buffer_ptr, element_type, shape))

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        self._outputs[name] = ortvalue

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()
        self._results = []

    def synchronize_outputs(self) -> None:
        """Nothing to wait for: values live on the CPU."""

    def get_outputs(self) -> list[OrtValue]:
        """The outputs of the last run, in the order they were bound."""
        return list(self._results)

    def get_outputs_as_ortvaluevector(self) -> list[OrtValue]:
        return self.get_outputs()

    def copy_outputs_to_cpu(self) -> list[Any]:
        return [value.numpy().copy() if value.is_tensor() else value.numpy() for value in self._results]

    # -- running ------------------------------------------------------------------

    def run(self, run_options: Any = None) -> None:
        """Run the session on the bound inputs; store (or write) the bound outputs."""
        if not self._outputs:
            raise InvalidArgument("At least one output should be requested.")
        names = list(self._outputs)
        results = self._session.run(names, dict(self._inputs), run_options)
        self._results = [self._place(name, value) for name, value in zip(names, results)]

    def _place(self, name: str, value: Any) -> OrtValue:
        target = self._outputs[name]
        if target is None:
            return OrtValue(value)
        array = target._tensor()
        if not isinstance(value, np.ndarray) or array.shape != value.shape or array.dtype != value.dtype:
            got = f"shape {list(value.shape)} ({value.dtype})" if isinstance(value, np.ndarray) else type(value).__name__
            raise InvalidArgument(
                f"the output OrtValue bound for '{name}' has shape {list(array.shape)} ({array.dtype}), "
                f"but this run computed {got}"
            )
        np.copyto(array, value)
        return target
