"""The compiled loop of a FusedElementwise node: the chain of its body, one element at a time,
in one pass over memory.

The loop's source is generated from the body (one statement per node, constants as
literals) for float32 and float64, written to a module file in the compiled-code cache folder
(``onyx.compiled.cache_dir()/elementwise``, named by the source's hash) and imported from
there, so that Numba's disk cache keeps the compiled code across processes like any other
onyx kernel's. Inputs of one shape and one float dtype run the loop; anything else (broadcast
operands, other dtypes) runs the body with the NumPy kernels.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from onyx.compiled import cache_dir, named, parallel_for, readonly
from onyx.ops.fast import compiled_types

_TYPES = ("float32", "float64")
_modules: dict[str, Any] = {}
_lock = threading.Lock()


class _Unsupported(Exception):
    """A body node the generator has no statement for."""


def _literal(value: float, t: str) -> str:
    return f"np.{t}({float(value)!r})"


# float32: onyx.ops.fast.vmath's vectorizable functions; float64: the C library's
_VECTOR_MATH = {"Exp": "exp32({0})", "Sigmoid": "sigmoid32({0})", "Tanh": "tanh32({0})", "Erf": "erf32({0})"}
_LIBM = {"Exp": "math.exp({0})", "Sigmoid": "1.0 / (1.0 + math.exp(-{0}))", "Tanh": "math.tanh({0})",
         "Erf": "math.erf({0})"}


def _statements(var: str, node: Any, args: list[str], scalars: dict[str, float], t: str) -> list[str]:
    """The lines computing ``node`` into ``var`` from the variables/literals ``args`` in type ``t``
    (selects as simple ``a if cond else b`` lines, which LLVM vectorizes; NaN kept as NumPy does)."""
    one, zero, half = _literal(1, t), _literal(0, t), _literal(0.5, t)
    op, a = node.op_type, args[0] if args else None
    simple = {"Add": "{0} + {1}", "Sub": "{0} - {1}", "Mul": "{0} * {1}", "Div": "{0} / {1}", "Neg": "-{0}",
              "Abs": "abs({0})", "Log": "math.log({0})", "Sqrt": "math.sqrt({0})", "Reciprocal": one + " / {0}",
              **(_VECTOR_MATH if t == "float32" else _LIBM)}
    if op in simple:
        return [f"{var} = " + simple[op].format(*args)]
    attrs = node.attrs
    if op == "Relu":
        return [f"{var} = {a}", f"{var} = {zero} if {var} < {zero} else {var}"]
    if op == "LeakyRelu":
        return [f"{var} = {a}", f"{var} = {var} * {_literal(attrs.get('alpha', 0.01), t)} if {var} < {zero} else {var}"]
    if op == "HardSigmoid":
        inner = f"{_literal(attrs.get('alpha', 0.2), t)} * {a} + {_literal(attrs.get('beta', 0.5), t)}"
        return [f"{var} = {inner}", *_clip(var, zero, one)]
    if op == "HardSwish":
        return [f"{var} = {a} * {_literal(1 / 6, t)} + {half}", *_clip(var, zero, one), f"{var} = {var} * {a}"]
    if op == "Clip":
        if "min" in attrs or "max" in attrs:  # opset 6 keeps the bounds in attributes
            lo, hi = attrs.get("min"), attrs.get("max")
        else:
            bounds = [scalars.get(n) if n else None for n in node.inputs[1:3]] + [None, None]
            lo, hi = bounds[0], bounds[1]
        return [f"{var} = {a}", *_clip(var, None if lo is None else _literal(lo, t), None if hi is None else _literal(hi, t))]
    if op == "Pow":
        exponent = scalars[node.inputs[1]]
        powers = {1.0: "{0}", 2.0: "{0} * {0}", 3.0: "{0} * {0} * {0}", 0.5: "math.sqrt({0})", -1.0: one + " / {0}"}
        return [f"{var} = " + powers.get(exponent, "{0} ** " + _literal(exponent, t)).format(a)]
    raise _Unsupported(op)


def _clip(var: str, lo: str | None, hi: str | None) -> list[str]:
    """``var`` limited to [lo, hi] (None: unbounded), NaN kept (np.clip's semantics)."""
    lines = [] if lo is None else [f"{var} = {lo} if {var} < {lo} else {var}"]
    return lines + ([] if hi is None else [f"{var} = {hi} if {var} > {hi} else {var}"])


def source_of(body: Any) -> str:
    """The module source of the loops computing ``body`` (a Graph of elementwise nodes)."""
    scalars = {name: float(np.asarray(v).reshape(-1)[0]) for name, v in body.initializers.items()}
    names = {v.name: f"x{i}" for i, v in enumerate(body.inputs)}
    inputs = ", ".join(names[v.name] for v in body.inputs)
    lines = ["import math", "", "import numpy as np", "", "from onyx.compiled import jit",
             "from onyx.ops.fast.vmath import erf32, exp32, sigmoid32, tanh32", ""]
    for t in _TYPES:
        signature = f"void(int64, int64, {', '.join(readonly(t, 1) for _ in body.inputs)}, {t}[::1])"
        lines += ["", f"@jit({signature!r}, error_model=\"numpy\", fastmath={{\"contract\"}})",
                  f"def loop_{t}(start, stop, {inputs}, out):",
                  "    for i in range(start, stop):"]
        local = {name: f"{var}[i]" for name, var in names.items()}
        for index, node in enumerate(body.nodes):
            args = []
            for name in node.inputs[: 1 if node.op_type in ("Clip", "Pow") else None]:
                args.append(local[name] if name in local else _literal(scalars[name], t))
            variable = f"v{index}"
            lines += [f"        {line}" for line in _statements(variable, node, args, scalars, t)]
            local[node.outputs[0]] = variable
        lines.append(f"        out[i] = {local[body.outputs[0].name]}")
    return "\n".join(lines) + "\n"


def _module(source: str) -> Any:
    """The module of ``source``, written once into the cache folder (or a temporary one) and imported."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    with _lock:
        if digest in _modules:
            return _modules[digest]
        path = _write(source, f"chain_{digest}.py")
        spec = importlib.util.spec_from_file_location(f"onyx_elementwise_{digest}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _modules[digest] = module
        return module


def _write(source: str, filename: str) -> Path:
    for folder in (cache_dir() / "elementwise", Path(tempfile.gettempdir()) / f"onyx-elementwise-{os.getuid()}"):
        path = folder / filename
        try:
            if not path.exists() or path.read_text() != source:
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f"{filename}.{os.getpid()}.{threading.get_ident()}.tmp"
                partial.write_text(source)
                os.replace(partial, path)  # other processes see the whole file or none
            return path
        except OSError:
            continue
    raise OSError("no folder to write the generated elementwise loop to")


def choose_fused_elementwise(node: Any, numpy_kernel: Callable[..., Any], *, body: Any) -> Callable[..., Any] | None:
    """The compiled loop of a FusedElementwise node (``body``: the plan of its chain)."""
    try:
        module = _module(source_of(body.graph))
    except (_Unsupported, KeyError, OSError):
        return None
    types = compiled_types(node)
    if types is None:
        return None
    loops = {np.dtype(t): getattr(module, f"loop_{t}").compiled() for t in types}
    if None in loops.values():
        return None

    def run(*inputs):
        first = inputs[0]
        if first.dtype not in loops or first.size == 0 or any(
                x.shape != first.shape or x.dtype != first.dtype for x in inputs[1:]):
            return numpy_kernel(*inputs)
        flat = [np.ascontiguousarray(x).reshape(-1) for x in inputs]
        out = np.empty(first.shape, first.dtype)
        parallel_for(loops[first.dtype], first.size, *flat, out.reshape(-1))
        return out

    ops = ",".join(n.op_type for n in body.graph.nodes)
    return named(run, f"compiled:elementwise({ops})")
