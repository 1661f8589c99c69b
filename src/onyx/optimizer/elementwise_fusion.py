"""Chains of elementwise operators into one FusedElementwise node (CPU provider, compiled kernels).

A group of connected elementwise nodes (SiLU's Sigmoid and Mul, Sigmoid gates, Add/Mul/
Sigmoid/Relu/Clip chains, where one compiled loop measured faster: see _worth_a_loop) whose
intermediate values nothing else reads becomes one ``ai.onyx`` FusedElementwise node. Its ``body`` attribute is the group itself, a graph of the
standard operators: the NumPy kernel runs it node by node (same results as before the fusion),
the compiled kernel (onyx/ops/fast/elementwise.py) runs the whole chain in one loop over the
elements, and saved models get the body's nodes back (onyx.optimizer.portable).

Only run where the session uses compiled kernels (CPUProvider.fusions, first of the CPU
fusions): without them the fusion would save nothing. Operands other than the chain's values are full tensors (fed or
computed; the compiled loop needs them of one shape, else the body runs) or one-element float
constants, which the loop holds as literals.
"""

from __future__ import annotations

from onyx.model.graph import Graph, Model, Node, ValueInfo
from onyx.optimizer.editor import ONYX_DOMAIN, GraphEditor

FUSED_ELEMENTWISE = "FusedElementwise"

# op type -> attributes it may carry; the inputs after the first that must be scalar constants
UNARY = {"Relu": (), "Sigmoid": (), "Exp": (), "Log": (), "Sqrt": (), "Neg": (), "Abs": (), "Reciprocal": (),
         "Tanh": (), "Erf": (), "LeakyRelu": ("alpha",), "HardSigmoid": ("alpha", "beta"), "HardSwish": (),
         "Clip": ("min", "max")}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow"}
MAX_TENSOR_INPUTS = 4


def _constant_operands(ed: GraphEditor, node: Node) -> list[str] | None:
    """The operands the fused loop holds as literals (one-element constants: Clip's bounds,
    Pow's exponent, a binary op's constant side), or None where one is not such a constant."""
    if node.op_type in UNARY or node.op_type == "Pow":
        literal = [n for n in node.inputs[1:] if n]
    else:
        literal = [n for n in node.inputs if n and ed.constant(n) is not None]
    kinds = "fiu" if node.op_type == "Pow" else "f"
    for name in literal:
        value = ed.constant(name)
        if value is None or value.size != 1 or value.dtype.kind not in kinds:
            return None
    return literal


def _eligible(ed: GraphEditor, node: Node) -> bool:
    if node.domain or len(node.outputs) != 1 or not node.outputs[0] or ed.removed(node):
        return False
    if node.op_type in UNARY:
        if set(node.attrs) - set(UNARY[node.op_type]):
            return False
        expected = 3 if node.op_type == "Clip" else 1
        return 1 <= len(node.inputs) <= expected and _constant_operands(ed, node) is not None
    if node.op_type in BINARY:
        return not node.attrs and len(node.inputs) == 2 and _constant_operands(ed, node) is not None
    return False


def fuse_elementwise_chains(model: Model) -> None:
    """Replace each group of two or more connected elementwise nodes with one output by a
    FusedElementwise node."""
    ed = GraphEditor(model)
    nodes = [n for n in model.graph.nodes if _eligible(ed, n)]
    eligible = {id(n) for n in nodes}
    parent = {id(n): id(n) for n in nodes}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for node in nodes:
        for name in node.inputs:
            producer = ed.producer.get(name)
            if producer is None or id(producer) not in eligible or name in ed.pinned:
                continue
            if all(id(reader) in eligible for reader in ed.consumers.get(name, [])):
                parent[root(id(producer))] = root(id(node))
    groups: dict[int, list[Node]] = {}
    for node in nodes:  # graph order: topological
        groups.setdefault(root(id(node)), []).append(node)
    changed = False
    for group in groups.values():
        if _worth_a_loop(group) and not _an_activation_to_fuse_elsewhere(ed, group):
            changed |= _fuse(ed, group)
    if changed:
        ed.use_onyx_domain()
    ed.commit()


def _worth_a_loop(group: list[Node]) -> bool:
    """Whether one compiled loop measured faster than the group's NumPy kernels: where the
    group has a Sigmoid, Tanh, Erf or Exp among others (NumPy's Sigmoid takes six passes, its
    float32 tanh is not vectorized; the loop's are, onyx.ops.fast.vmath). Alone, they have
    compiled kernels of their own (onyx.ops.fast.activations). Chains of arithmetic,
    Relu, Clip and the hard activations alone stay NumPy: its vectorized passes over data in
    cache measured as fast or faster (Add+Relu 0.25-0.41 ms against 0.40-0.62 ms)."""
    ops = {n.op_type for n in group}
    return len(group) >= 2 and (bool(ops & {"Sigmoid", "Tanh", "Erf"}) or "Exp" in ops)


def _an_activation_to_fuse_elsewhere(ed: GraphEditor, group: list[Node]) -> bool:
    """A lone activation of a Conv, Gemm or MatMul (or of its sum with a bias or residual),
    which the later CPU fusions apply in the product's own output buffer."""
    if len(group) != 1:
        return False
    products = ("Conv", "Gemm", "MatMul")
    producer = ed.producer.get(group[0].inputs[0])
    if producer is not None and producer.op_type == "Add" and not producer.domain:
        return any(getattr(ed.producer.get(n), "op_type", None) in products for n in producer.inputs)
    return producer is not None and producer.op_type in products and not producer.domain


def _fuse(ed: GraphEditor, group: list[Node]) -> bool:
    members = {id(n) for n in group}
    made = {n.outputs[0] for n in group}
    outputs = [n.outputs[0] for n in group
               if n.outputs[0] in ed.pinned or any(id(r) not in members for r in ed.consumers.get(n.outputs[0], []))]
    if outputs != [group[-1].outputs[0]]:  # one result, made last: nothing outside reads the middle
        return False
    constants: dict[str, object] = {}
    tensors: list[str] = []
    for node in group:
        scalars = set(_constant_operands(ed, node) or ())
        for name in node.inputs:
            if not name or name in made:
                continue
            if name in scalars:
                constants[name] = ed.constant(name)
            elif name not in tensors:
                tensors.append(name)
    if not tensors or len(tensors) > MAX_TENSOR_INPUTS:
        return False
    final = group[-1].outputs[0]
    body = Graph(name=f"{group[-1].name or final}_chain", nodes=[_copy(n) for n in group],
                 inputs=[ValueInfo(n) for n in tensors], outputs=[ValueInfo(final)], initializers=constants)
    fused = Node(FUSED_ELEMENTWISE, list(tensors), [final], {"body": body}, domain=ONYX_DOMAIN,
                 name=ed.fresh_name(group[-1].name or f"{final}_fused"))
    ed.replace(group, [fused])
    return True


def _copy(node: Node) -> Node:
    return Node(node.op_type, list(node.inputs), list(node.outputs), dict(node.attrs), domain=node.domain,
                name=node.name)
