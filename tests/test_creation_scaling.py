"""Session creation does work linear in the node count.

No timing: the work is counted. A counter sees every line of onyx's Python code that runs
(loops included) and every element that onyx code copies into a set, frozenset or sorted
list (C-level copies that tracing alone would not see). Four times the nodes may take at
most four times the count, with a little slack; a quadratic step (one copy of the names
defined so far per node, one scan of the graph per node) makes it 6x or more.
"""

import builtins
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import onyx

_COPIERS = ("set", "frozenset", "sorted")


def mixed_chain(n: int):
    """A chain of n nodes: plain kernels with their own constants, model-local function calls,
    operators run through their schema's function body, and If nodes with subgraphs."""
    nodes, inits = [], []
    local = helper.make_function("local", "Twice", ["x"], ["y"], [helper.make_node("Add", ["x", "x"], ["y"])],
                                 [helper.make_opsetid("", 18)])
    for i in range(n):
        x, y = f"v{i}", f"v{i + 1}"
        kind = i % 8
        if kind == 0:
            branch = [helper.make_graph([helper.make_node("Relu", [x], [f"b{i}_{k}"])], f"b{i}_{k}", [],
                                        [helper.make_tensor_value_info(f"b{i}_{k}", TensorProto.FLOAT, [4])])
                      for k in range(2)]
            nodes.append(helper.make_node("If", ["cond"], [y], then_branch=branch[0], else_branch=branch[1]))
        elif kind == 1:
            nodes.append(helper.make_node("Twice", [x], [y], domain="local"))
        elif kind == 2:
            nodes.append(helper.make_node("Celu", [x], [y]))  # no kernel: its schema's function body
        else:
            inits.append(numpy_helper.from_array(np.full(4, i, np.float32), f"c{i}"))
            nodes.append(helper.make_node("Add" if kind % 2 else "Mul", [x, f"c{i}"], [y]))
    inits.append(numpy_helper.from_array(np.array(True), "cond"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("v0", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, [4])], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("local", 1)],
                             functions=[local])


def creation_work(model, monkeypatch) -> int:
    """Lines of onyx code run plus elements copied by onyx code while creating a session."""
    count = 0

    def copier(real):
        def counted(*args, **kwargs):
            nonlocal count
            if not args:
                return real(**kwargs)
            items = builtins.list(args[0])
            count += len(items)
            return real(items, *args[1:], **kwargs)
        return counted

    for name, module in list(sys.modules.items()):
        if name == "onyx" or name.startswith("onyx."):
            for copier_name in _COPIERS:
                monkeypatch.setattr(module, copier_name, copier(getattr(builtins, copier_name)), raising=False)

    def trace(frame, event, arg):
        if "/onyx/" not in frame.f_code.co_filename:
            return None

        def line(frame, event, arg):
            nonlocal count
            if event == "line":
                count += 1
            return line

        return line

    data = model.SerializeToString()
    sys.settrace(trace)
    try:
        onyx.InferenceSession(data)
    finally:
        sys.settrace(None)
        monkeypatch.undo()
    return count


def test_creation_work_grows_linearly_with_the_node_count(monkeypatch):
    onyx.InferenceSession(mixed_chain(16).SerializeToString())  # imports and registries loaded up front
    small = creation_work(mixed_chain(200), monkeypatch)
    large = creation_work(mixed_chain(800), monkeypatch)
    assert large <= 4.4 * small, f"4x the nodes took {large / small:.2f}x the work ({small} -> {large})"


def test_mixed_chain_runs():
    sess = onyx.InferenceSession(mixed_chain(16).SerializeToString())
    (y,) = sess.run(None, {"v0": np.ones(4, np.float32)})
    assert y.shape == (4,) and np.isfinite(y).all()
