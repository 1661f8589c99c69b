"""Constant folding: nodes computable at session creation become initializers.

``fold_constants`` runs the registry's kernels on nodes whose inputs are all constants;
``fold_shapes`` replaces Shape/Size of values whose shape is statically known, then folds
again (Shape -> Gather -> Concat -> Reshape chains collapse).
"""

from __future__ import annotations

import math

import numpy as np

from onyx.model.graph import Model, Node
from onyx.ops import registry
from onyx.model.inference import infer_types
from onyx.optimizer.editor import NONDETERMINISTIC, has_subgraph, known_dims, prune, static_shape

# results larger than this many elements are kept as nodes when they outgrow their inputs,
# unless they are only read as the weights of a linear operator (a parameter, not a transient)
MAX_FOLDED_ELEMENTS = 1 << 24
_WEIGHT_READERS = frozenset({"Gemm", "MatMul", "Conv", "ConvTranspose"})
_GROWING_OPS = frozenset({"ConstantOfShape", "Expand", "Tile", "Range"})


def _estimated_size(node: Node, inputs: list[np.ndarray | None]) -> int:
    """Element count of the result of an op that can blow up, before running it (0 if unknown)."""
    try:
        if node.op_type == "ConstantOfShape":
            return math.prod(int(d) for d in inputs[0].reshape(-1))
        if node.op_type == "Expand":
            return math.prod(np.broadcast_shapes(inputs[0].shape, tuple(int(d) for d in inputs[1].reshape(-1))))
        if node.op_type == "Tile":
            return inputs[0].size * math.prod(int(r) for r in inputs[1].reshape(-1))
        if node.op_type == "Range":
            start, limit, delta = (float(v.reshape(-1)[0]) for v in inputs[:3])
            return max(math.ceil((limit - start) / delta), 0) if delta else MAX_FOLDED_ELEMENTS + 1
    except (ValueError, TypeError, OverflowError, IndexError, AttributeError):
        return MAX_FOLDED_ELEMENTS + 1
    return 0


def evaluate(node: Node, inputs: list[np.ndarray | None], opset: int,
             max_elements: int = MAX_FOLDED_ELEMENTS) -> list[np.ndarray] | None:
    """The node's outputs computed by its kernel, or None when it cannot or should not be folded."""
    kdef = registry.lookup(node.domain, node.op_type, opset)
    if kdef is None or kdef.wants_outer:
        return None
    if not kdef.accepts_any_attribute and set(node.attrs) - kdef.attribute_names:
        return None
    input_size = sum(x.size for x in inputs if x is not None)
    if node.op_type in _GROWING_OPS and _estimated_size(node, inputs) > max(max_elements, input_size):
        return None
    attrs = dict(node.attrs)
    if kdef.wants_num_outputs:
        attrs["_num_outputs"] = len(node.outputs)
    try:
        with np.errstate(all="ignore"):
            result = kdef.bind(attrs)(*inputs)
    except Exception:  # noqa: BLE001 - the error surfaces when the model runs, as without folding
        return None
    results = list(result) if type(result) is tuple else [result]
    arrays = []
    for value in results:
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            return None  # sequences, maps, optionals stay computed at run time
        if value.size > max(max_elements, input_size):
            return None
        value.flags.writeable = False
        arrays.append(value)
    return arrays


def foldable(node: Node) -> bool:
    return node.op_type not in NONDETERMINISTIC and not has_subgraph(node) and (
        bool(node.inputs) or node.op_type == "Constant"
    )


def _weights_only(graph) -> set[str]:
    """Names read only as the weight operand (input 1) of Gemm/MatMul/Conv nodes."""
    weights: set[str] = set()
    other: set[str] = {v.name for v in graph.outputs}
    for node in graph.nodes:
        for i, name in enumerate(node.inputs):
            is_weight = i == 1 and node.op_type in _WEIGHT_READERS and not node.domain
            (weights if is_weight else other).add(name)
    return weights - other


def fold_constants(model: Model) -> None:
    """Replace nodes whose inputs are all constant by initializers holding their outputs."""
    graph = model.graph
    overridable = {v.name for v in graph.inputs}
    kept_names = {v.name for v in graph.outputs}
    constants = {k: v for k, v in graph.initializers.items() if k not in overridable}
    weights = _weights_only(graph)
    kept: list[Node] = []
    for node in graph.nodes:
        if (foldable(node) and all(not n or n in constants for n in node.inputs)
                and not kept_names.intersection(node.outputs) and node.domain in model.opset):
            limit = 1 << 62 if all(o in weights for o in node.outputs) else MAX_FOLDED_ELEMENTS
            values = evaluate(node, [constants[n] if n else None for n in node.inputs], model.opset[node.domain], limit)
            if values is not None and len(values) >= len([o for o in node.outputs if o]):
                for name, value in zip(node.outputs, values):
                    if name:
                        constants[name] = graph.initializers[name] = value
                continue
        kept.append(node)
    if len(kept) != len(graph.nodes):
        graph.nodes = kept
        prune(graph)


def _gathered_dims(node: Node, dims: list[int | None], indices: np.ndarray | None) -> np.ndarray | None:
    """Gather(Shape(x), constant indices) when every dim it picks is known."""
    if indices is None or indices.dtype.kind not in "iu" or node.attrs.get("axis", 0) not in (0, -1):
        return None
    picked = []
    for i in indices.reshape(-1).tolist():
        if not -len(dims) <= i < len(dims) or dims[i] is None:
            return None
        picked.append(dims[i])
    return np.array(picked, dtype=np.int64).reshape(indices.shape)


def fold_shapes(model: Model, types: dict | None = None) -> None:
    """Shape and Size of statically shaped values become constants, and so does Gather of the
    known dims of a Shape (a Conv's channels beside a free batch size); then fold what follows.
    ``types``: the model's value types when the caller has inferred them already."""
    graph = model.graph
    if not any(n.op_type in ("Shape", "Size") and not n.domain for n in graph.nodes):
        return
    types = infer_types(model) if types is None else types
    overridable = {v.name for v in graph.inputs}
    kept_names = {v.name for v in graph.outputs}
    partial: dict[str, list[int | None]] = {}  # output of a Shape kept -> its known dims (None: unknown)
    kept: list[Node] = []
    for node in graph.nodes:
        value = None
        if node.op_type in ("Shape", "Size") and not node.domain and node.outputs[0] not in kept_names:
            shape = static_shape(types.get(node.inputs[0]))
            if shape is not None and node.op_type == "Size":
                value = np.array(math.prod(shape), dtype=np.int64)
            elif shape is not None:
                start, end = node.attrs.get("start", 0), node.attrs.get("end")
                value = np.array(shape[start:end], dtype=np.int64)
            elif node.op_type == "Shape":
                dims = known_dims(types.get(node.inputs[0]))
                if dims is not None:
                    partial[node.outputs[0]] = dims[node.attrs.get("start", 0):node.attrs.get("end")]
        elif node.op_type == "Gather" and not node.domain and node.inputs[0] in partial:
            value = _gathered_dims(node, partial[node.inputs[0]], graph.initializers.get(node.inputs[1]))
            value = None if node.outputs[0] in kept_names or node.inputs[1] in overridable else value
        if value is None:
            kept.append(node)
        else:
            value.flags.writeable = False
            graph.initializers[node.outputs[0]] = value
    if len(kept) != len(graph.nodes):
        graph.nodes = kept
        fold_constants(model)
