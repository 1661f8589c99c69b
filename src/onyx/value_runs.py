"""The ways to run a session beyond ``run``: on OrtValues, through an IOBinding, asynchronously."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from onyx.errors import InvalidArgument
from onyx.iobinding import IOBinding
from onyx.ortvalue import OrtValue


class ValueRuns:
    """onnxruntime's run variants, for a class that has ``run(output_names, feeds, run_options)``."""

    run: Callable[..., list[Any]]

    def io_binding(self) -> IOBinding:
        """A new IOBinding for this session."""
        return IOBinding(self)

    def run_with_iobinding(self, iobinding: IOBinding, run_options: Any = None) -> None:
        """Run on ``iobinding``'s bound inputs; its outputs then hold the results."""
        iobinding.run(run_options)

    def run_with_ort_values(
        self, output_names: Sequence[str] | None, input_dict_ort_values: dict[str, OrtValue], run_options: Any = None
    ) -> list[OrtValue]:
        """Like ``run``, with OrtValue feeds and OrtValue results."""
        for name, value in input_dict_ort_values.items():
            if not isinstance(value, OrtValue):
                raise InvalidArgument(f"input '{name}': run_with_ort_values takes OrtValues, not {type(value).__name__}")
        return [OrtValue(value) for value in self.run(output_names, dict(input_dict_ort_values), run_options)]

    def run_async(
        self,
        output_names: Sequence[str] | None,
        input_feed: dict[str, Any],
        callback: Callable[[list[Any], Any, str], None],
        user_data: Any,
        run_options: Any = None,
    ) -> None:
        """Run on another thread, then call ``callback(results, user_data, error_message)``:
        the outputs and "" on success, [] and the error's message on failure."""

        def work() -> None:
            try:
                results, error = self.run(output_names, input_feed, run_options), ""
            except Exception as exc:  # noqa: BLE001 - reported to the callback, as onnxruntime does
                results, error = [], str(exc)
            callback(results, user_data, error)

        threading.Thread(target=work, name="onyx-run-async", daemon=True).start()
