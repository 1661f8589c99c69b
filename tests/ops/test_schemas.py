"""Every kernel of a domain onnx defines serves exactly its schema's attributes, with the schema's defaults.

For each registered operator, each version of its onnx schema is looked up in the registry as a
model of that opset would be; the kernel found must accept exactly the schema's attributes (its
attribute names), take each as a keyword-only parameter with the schema's default where the schema
declares one, and take no keyword-only parameter that no version it serves declares. Each
registration's since-version must be a version of the schema. com.microsoft operators are
checked where onnx has their schema; it has none of the ones onyx implements (onnxruntime defines
them), so those are skipped, each with that reason.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import onnx
import onnx.defs
import pytest

import onyx
from onyx.ops import registry
from oracle import single_node_model

SCHEMA_DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training", "com.microsoft")

# Deliberate differences between a kernel's signature and its schema, each with its reason:
# {(domain, op type, attribute): reason}. An attribute listed here may be missing from the kernel
# (it is ignored) or extra (onyx accepts it beyond the spec).
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("", "GRU", "direction"): "GRU-1's schema defaults it to 'foward', a typo for the 'forward' onnxruntime uses",
    **{("", op, "activations"): f"{op}'s schema default lists the activations of a bidirectional node; None "
       "means the default activation(s) for each direction the node runs" for op in ("RNN", "GRU", "LSTM")},
}
# Registrations at a version onnx has no schema version of: {(domain, op type, since): reason}
EXTRA_VERSIONS: dict[tuple[str, str, int], str] = {
    ("", "LayerNormalization", 1): "onnxruntime runs LayerNormalization in the ai.onnx domain from opset 1, "
    "before it became standard (opset 17), and exporters emitted it so",
}


@functools.cache
def _all_schema_versions() -> dict[tuple[str, str], list[int]]:
    versions: dict[tuple[str, str], list[int]] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        versions.setdefault((schema.domain, schema.name), []).append(schema.since_version)
    return {key: sorted(v) for key, v in versions.items()}


def _schema_versions(domain: str, op_type: str) -> list[int]:
    return _all_schema_versions().get((domain, op_type), [])


def _registered() -> list[tuple[str, str]]:
    return sorted({(k.domain, k.op_type) for k in registry.registered_kernels() if k.domain in SCHEMA_DOMAINS})


def _schema_default(attribute: onnx.defs.OpSchema.Attribute):
    if not attribute.default_value.name:
        return inspect.Parameter.empty
    value = onnx.helper.get_attribute_value(attribute.default_value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value


def _same_default(kernel_default, schema_default) -> bool:
    if isinstance(schema_default, float):  # schemas hold float32 values
        return kernel_default is not None and np.float32(kernel_default) == np.float32(schema_default)
    if isinstance(schema_default, list):
        return kernel_default is not None and list(kernel_default) == schema_default
    return kernel_default == schema_default


def _mismatches(domain: str, op_type: str, version: int, kdef: registry.KernelDef,
                served: set[str]) -> list[str]:
    """What differs between the kernel serving ``version`` and the schema; ``served``: the
    attributes of every schema version this kernel function serves."""
    schema = onnx.defs.get_schema(op_type, version, domain)
    where = f"{domain or 'ai.onnx'}::{op_type}-{version} (kernel {kdef.fn.__module__}.{kdef.fn.__qualname__})"
    problems = []
    if kdef.accepts_any_attribute:
        return [f"{where} takes **kwargs: its attributes cannot be checked"]
    expected = set(schema.attributes)
    names = set(kdef.attribute_names)
    for name in sorted(expected ^ names):
        if (domain, op_type, name) not in EXCEPTIONS:
            side = "lacks the schema's attribute" if name in expected else "takes an attribute the schema lacks:"
            problems.append(f"{where} {side} '{name}'")
    params = {} if isinstance(kdef.fn, np.ufunc) else inspect.signature(kdef.fn).parameters
    for name, param in params.items():
        if param.kind is not param.KEYWORD_ONLY or name.startswith("_") or name in expected:
            continue
        if name not in served and (domain, op_type, name) not in EXCEPTIONS:
            problems.append(f"{where} takes '{name}', which no schema version it serves declares")
        elif param.default is inspect.Parameter.empty:
            problems.append(f"{where} requires '{name}', which this version's schema lacks")
    for name in sorted(expected & names):
        default = _schema_default(schema.attributes[name])
        if default is inspect.Parameter.empty or (domain, op_type, name) in EXCEPTIONS:
            continue
        if not _same_default(params[name].default, default):
            problems.append(f"{where} defaults '{name}' to {params[name].default!r}, the schema to {default!r}")
    return problems


def _served_attributes(fn) -> set[str]:
    """The attributes of every schema version (of any operator) that the kernel ``fn`` serves."""
    served: set[str] = set()
    for domain, op_type in {(k.domain, k.op_type) for k in registry.registered_kernels() if k.fn is fn}:
        for version in _schema_versions(domain, op_type):
            kdef = registry.lookup(domain, op_type, version)
            if kdef is not None and kdef.fn is fn:
                served |= set(onnx.defs.get_schema(op_type, version, domain).attributes)
    return served


@pytest.mark.parametrize("domain, op_type", _registered())
def test_kernel_attributes_match_the_onnx_schema(domain, op_type):
    versions = _schema_versions(domain, op_type)
    if not versions:
        pytest.skip(f"onnx has no schema for {domain}::{op_type} (onnxruntime defines it)")
    registered = [k for k in registry.registered_kernels() if (k.domain, k.op_type) == (domain, op_type)]
    problems = [f"{op_type}: since={k.since} is not a version of its schema {versions}"
                for k in registered if k.since not in versions and (domain, op_type, k.since) not in EXTRA_VERSIONS]
    for version in versions:
        kdef = registry.lookup(domain, op_type, version)
        if kdef is not None:
            problems += _mismatches(domain, op_type, version, kdef, _served_attributes(kdef.fn))
    assert not problems, "\n".join(problems)


def test_every_exception_is_still_needed():
    registered = set(_registered())
    stale = [key for key in [*EXCEPTIONS, *EXTRA_VERSIONS] if key[:2] not in registered]
    assert not stale, f"exceptions for operators onyx no longer registers: {stale}"


# -- what the per-version attribute sets change for models --------------------------------


def _run(op_type: str, opset: int, inputs: dict, **attrs) -> list:
    model = single_node_model(op_type, inputs, opset=opset, infer_types=False, **attrs)
    return onyx.InferenceSession(model.SerializeToString()).run(None, inputs)


def test_a_numpy_ufunc_kernel_takes_no_attributes():
    """Exp is np.exp itself: NumPy's own keywords (``where``, ``dtype``...) are not attributes; a
    node setting one was passed on to NumPy (``where=0`` returned uninitialized memory)."""
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    np.testing.assert_allclose(_run("Exp", 13, {"x": x})[0], np.exp(x), rtol=1e-6)
    with pytest.raises(onyx.InvalidGraph, match=r"attribute\(s\) \['where'\] that Exp-6 does not define"):
        _run("Exp", 13, {"x": x}, where=0)


def test_an_attribute_a_later_version_added_is_refused_before_it():
    """GatherND-11 has no batch_dims (GatherND-12 added it); GatherND-12 and -13 take it (they
    were served by the opset-11 registration)."""
    data = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    indices = np.array([[1], [0]], dtype=np.int64)
    np.testing.assert_array_equal(_run("GatherND", 13, {"data": data, "indices": indices}, batch_dims=1)[0],
                                  np.stack([data[0, 1], data[1, 0]]))
    with pytest.raises(onyx.InvalidGraph, match="GatherND-11 does not define"):
        _run("GatherND", 11, {"data": data, "indices": indices}, batch_dims=1)


def test_the_opset_1_consumed_inputs_hint_is_accepted_where_declared():
    x = np.array([-1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(_run("Relu", 1, {"x": x}, consumed_inputs=[0])[0], [0.0, 2.0])
    with pytest.raises(onyx.InvalidGraph, match="Relu-6 does not define"):
        _run("Relu", 6, {"x": x}, consumed_inputs=[0])
