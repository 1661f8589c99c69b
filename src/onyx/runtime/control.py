"""Stopping a run: ``RunOptions.terminate``, a time limit, and a size budget for values.

A session makes one :class:`RunControl` per run and makes it current for the run (a context
variable, so plans of subgraphs and function bodies see it too). ``Plan.run`` asks it
between nodes whether to stop and checks the sizes of values that can grow beyond their
inputs; kernels with long loops (Loop, Scan, recurrent time steps) check once per iteration
(:func:`loop_check`). A run without RunOptions and without a time limit skips the per-node
check altogether.

The size budget counts a value's logical bytes (elements x item size), so a broadcast view
counts as the array it stands for: Expand to [10^6, 10^6] is refused at once instead of
letting a reduction over the view compute for minutes. The default budget is the machine's
physical memory (no such value could be materialized anyway); with an explicit budget
every node's outputs are checked, and the inputs of broadcasting elementwise nodes before
they allocate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from time import perf_counter
from typing import Any

import numpy as np

from onyx.errors import InvalidArgument, MemoryLimitExceeded, RunTerminated, RunTimeLimitExceeded
from onyx.model.graph import Node

TIME_LIMIT_KEY = "session.onyx.run_time_limit_ms"
MEMORY_LIMIT_KEY = "session.onyx.memory_limit_bytes"

# steps whose outputs are checked against the budget even when it is the default one: they size
# their outputs from input values (a tiny model can ask for terabytes), and Expand returns a
# broadcast view that costs nothing to make and everything to reduce
GROWING_OPS = frozenset({"Expand", "Tile", "ConstantOfShape", "Range", "Resize", "Upsample", "Pad", "OneHot",
                         "EyeLike", "RandomNormal", "RandomUniform", "Col2Im", "MaxUnpool", "CenterCropPad"})
# multi-input elementwise operators whose output shape is the broadcast of their inputs' shapes
BROADCASTING_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where",
                              "And", "Or", "Xor", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
                              "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "PRelu"})


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 36


DEFAULT_MEMORY_LIMIT = _physical_memory()


def _config_number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or math.isinf(value):
        raise InvalidArgument(f"config entry '{key}' must be a non-negative number, got '{text}'")
    return value


class RunLimits:
    """A session's limits, read from its config entries: a run's time limit in milliseconds
    (None: none) and its size budget in bytes (None: none)."""

    def __init__(self, config: Mapping[str, str]):
        self.time_limit_ms: float | None = None
        self.memory_limit: int | None = DEFAULT_MEMORY_LIMIT
        self.explicit_memory_limit = False
        self._update(config)

    def _update(self, config: Mapping[str, str]) -> None:
        if TIME_LIMIT_KEY in config:
            ms = _config_number(TIME_LIMIT_KEY, config[TIME_LIMIT_KEY])
            self.time_limit_ms = ms or None
        if MEMORY_LIMIT_KEY in config:
            limit = int(_config_number(MEMORY_LIMIT_KEY, config[MEMORY_LIMIT_KEY]))
            self.memory_limit = limit or None
            self.explicit_memory_limit = True

    def for_run(self, run_config: Mapping[str, str]) -> RunLimits:
        """These limits with a run's config entries (same keys) taking precedence."""
        if TIME_LIMIT_KEY not in run_config and MEMORY_LIMIT_KEY not in run_config:
            return self
        limits = RunLimits({})
        limits.__dict__.update(self.__dict__)
        limits._update(run_config)
        return limits


class RunControl:
    """What one run may do: whether it was told to stop, until when it may run, how large a
    value it may make."""

    __slots__ = ("_options", "_deadline", "_time_limit_ms", "max_bytes", "watching", "check_all")

    def __init__(self, options: Any = None, limits: RunLimits | None = None):
        limits = limits or _DEFAULT_LIMITS
        self._options = options
        self._time_limit_ms = limits.time_limit_ms
        self._deadline = None if limits.time_limit_ms is None else perf_counter() + limits.time_limit_ms / 1000
        self.max_bytes = limits.memory_limit
        self.watching = options is not None or self._deadline is not None
        self.check_all = limits.explicit_memory_limit and self.max_bytes is not None

    def check(self, node: Node | None = None) -> None:
        """Raise if the run was told to terminate or has passed its time limit."""
        if self._options is not None and self._options.terminate:
            raise RunTerminated("Exiting due to terminate flag being set to true.")
        if self._deadline is not None and perf_counter() > self._deadline:
            where = f" at {node.describe()}" if node is not None else ""
            raise RunTimeLimitExceeded(
                f"the run passed its time limit of {self._time_limit_ms:g} ms ({TIME_LIMIT_KEY}){where}"
            )

    def check_value(self, node: Node, value: Any) -> None:
        """Raise if ``value``, an output of ``node``, is logically larger than the budget."""
        if self.max_bytes is not None and isinstance(value, np.ndarray):
            self._check_bytes(node, value.shape, value.dtype.itemsize)

    def check_broadcast(self, node: Node, args: Sequence[Any]) -> None:
        """Raise before an elementwise node allocates a broadcast result larger than the budget."""
        shapes = [a.shape for a in args if isinstance(a, np.ndarray)]
        if len(shapes) < 2 or self.max_bytes is None:
            return
        try:
            shape = np.broadcast_shapes(*shapes)
        except ValueError:
            return  # the kernel reports shapes that do not broadcast
        itemsize = max(a.dtype.itemsize for a in args if isinstance(a, np.ndarray))
        self._check_bytes(node, shape, itemsize)

    def _check_bytes(self, node: Node | None, shape: Sequence[int], itemsize: int) -> None:
        size = math.prod(shape) * itemsize
        if size > self.max_bytes:
            raise MemoryLimitExceeded(
                f"{node.describe() + ' ' if node is not None else ''}would make a value of shape {list(shape)} "
                f"({_human(size)}), over the run's memory limit of {_human(self.max_bytes)} ({MEMORY_LIMIT_KEY})"
            )


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"


_DEFAULT_LIMITS = RunLimits({})
_DEFAULT = RunControl()
_current: ContextVar[RunControl] = ContextVar("onyx_run_control", default=_DEFAULT)


def current() -> RunControl:
    """The control of the run in progress (a default one outside sessions' runs)."""
    return _current.get()


class running:  # noqa: N801 - used as a function: ``with running(control):``
    """Make ``control`` current for the run inside the ``with`` block (a class: every run
    enters one, and a generator context manager costs three times as much)."""

    __slots__ = ("_control", "_token")

    def __init__(self, control: RunControl):
        self._control = control

    def __enter__(self) -> RunControl:
        self._token = _current.set(self._control)
        return self._control

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


def reserve(shape: Sequence[int], dtype: Any) -> None:
    """Raise MemoryLimitExceeded before a kernel makes a value of ``shape`` and ``dtype`` (a view
    included) larger than the current run's budget. ``Plan.run`` names the node."""
    control = _current.get()
    if control.max_bytes is not None:
        control._check_bytes(None, shape, np.dtype(dtype).itemsize)


def at_node(error: MemoryLimitExceeded, node: Node) -> MemoryLimitExceeded:
    """``error`` (raised by :func:`reserve`) with the node that made the value named first."""
    message = str(error)
    if message.startswith("would make"):
        return MemoryLimitExceeded(f"{node.describe()} {message}")
    return error


def loop_check() -> Callable[[], None] | None:
    """What a kernel's long loop (Loop, Scan, recurrent time steps) calls once per iteration, to
    stop when the current run must; None when nothing can stop the run (no RunOptions, no time
    limit), so that such a loop pays one test per iteration."""
    control = _current.get()
    return control.check if control.watching else None
