"""Execution providers end to end with a toy provider (tests/toy_provider.py): partitions,
copies at device borders, CPU fallback warnings, subgraphs partitioned, and results equal to
the CPU-only run."""

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import onyx as ort
from onyx.cli import main
from onyx.providers import CPU, register_provider, unregister_provider
from onyx.providers.partition import ProviderFallbackWarning
from toy_provider import TOY, ToyProvider

FLOAT = TensorProto.FLOAT


@pytest.fixture(autouse=True)
def toy():
    register_provider(ToyProvider)
    ToyProvider.copies.update(to_device=0, to_host=0)
    yield
    unregister_provider(TOY)


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _vec(name, n=4):
    return helper.make_tensor_value_info(name, FLOAT, [n])


def chain_model():
    """x -> Relu -> Add(w) -> Sub(w) -> Relu -> Add(x) -> Mul(w) -> y: toy, CPU, toy, CPU."""
    w = numpy_helper.from_array(np.array([0.5, -1.0, 2.0, -3.0], np.float32), "w")
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu1"),
        helper.make_node("Add", ["a", "w"], ["b"], name="add1"),
        helper.make_node("Sub", ["b", "w"], ["c"], name="sub"),
        helper.make_node("Relu", ["c"], ["d"], name="relu2"),
        helper.make_node("Add", ["d", "x"], ["e"], name="add2"),
        helper.make_node("Mul", ["e", "w"], ["y"], name="mul"),
    ]
    return _model(nodes, [_vec("x")], [_vec("y"), _vec("b")], [w])


def _sessions(model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        toy = ort.InferenceSession(model, providers=[TOY, CPU], **kwargs)
    cpu = ort.InferenceSession(model, providers=[CPU], **kwargs)
    return toy, cpu, [w for w in caught if issubclass(w.category, ProviderFallbackWarning)]


def _same_results(toy, cpu, feeds):
    ours, theirs = toy.run(None, feeds), cpu.run(None, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert type(a) is np.ndarray and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def _no_optimizer():
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def test_chain_splits_into_alternating_partitions_with_copies_at_the_borders():
    toy, cpu, fallbacks = _sessions(chain_model(), sess_options=_no_optimizer())
    assignment = toy.get_provider_assignment()
    assert [(p.provider, p.nodes) for p in assignment] == [
        (TOY, ("relu1", "add1")), (CPU, ("sub",)), (TOY, ("relu2", "add2")), (CPU, ("mul",))]
    copies = [s.node.op_type for s in toy._plan.steps if s.node.op_type.startswith("Memcpy")]
    # x to the device; b back (read by sub, and a graph output); c to the device; e back
    assert copies == ["MemcpyFromHost", "MemcpyToHost", "MemcpyFromHost", "MemcpyToHost"]
    assert ToyProvider.copies["to_device"] == 1  # the constant w, copied once at creation
    _same_results(toy, cpu, {"x": np.array([-1.0, 2.0, -3.0, 4.0], np.float32)})
    assert ToyProvider.copies == {"to_device": 3, "to_host": 2}
    assert len(fallbacks) == 1
    message = str(fallbacks[0].message)
    assert '2 node(s) run on CPUExecutionProvider' in message and '"sub" (Sub)' in message and '"mul" (Mul)' in message


def test_independent_toy_nodes_merge_into_one_partition():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="left"),
        helper.make_node("Neg", ["x"], ["n"], name="neg"),
        helper.make_node("Relu", ["x"], ["b"], name="right"),
        helper.make_node("Add", ["a", "b"], ["y"], name="join"),
    ]
    model = _model(nodes, [_vec("x")], [_vec("y"), _vec("n")])
    toy, cpu, fallbacks = _sessions(model, sess_options=_no_optimizer())  # CSE would merge the Relus
    assert [(p.provider, p.nodes) for p in toy.get_provider_assignment()] == [
        (TOY, ("left", "right", "join")), (CPU, ("neg",))]
    _same_results(toy, cpu, {"x": np.array([-1.0, 2.0, -3.0, 4.0], np.float32)})


def test_no_fallback_warning_when_the_listed_provider_claims_every_node():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "x"], ["y"])]
    toy, cpu, fallbacks = _sessions(_model(nodes, [_vec("x")], [_vec("y")]))
    assert fallbacks == []
    assert [p.provider for p in toy.get_provider_assignment()] == [TOY]
    _same_results(toy, cpu, {"x": np.array([-1.0, 2.0, -3.0, 4.0], np.float32)})


def _branch(name, op_inputs):
    """A subgraph: Relu of its outer value, plus an outer value, then a Neg (CPU)."""
    nodes = [
        helper.make_node("Relu", [op_inputs[0]], [f"{name}_r"], name=f"{name}_relu"),
        helper.make_node("Add", [f"{name}_r", op_inputs[1]], [f"{name}_s"], name=f"{name}_add"),
        helper.make_node("Neg", [f"{name}_s"], [f"{name}_out"], name=f"{name}_neg"),
    ]
    return helper.make_graph(nodes, name, [], [_vec(f"{name}_out")])


def test_if_and_loop_bodies_are_partitioned_too():
    loop_body = helper.make_graph(
        [
            helper.make_node("Relu", ["carried"], ["r"], name="body_relu"),
            helper.make_node("Add", ["r", "x"], ["added"], name="body_add"),
            helper.make_node("Sub", ["added", "x"], ["next"], name="body_sub"),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
        ],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), _vec("carried")],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), _vec("next")],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["rx"], name="outer_relu"),
        helper.make_node("If", ["flag"], ["picked"], name="choose",
                         then_branch=_branch("then", ["rx", "x"]), else_branch=_branch("else", ["x", "rx"])),
        helper.make_node("Loop", ["trips", "", "picked"], ["looped"], name="repeat", body=loop_body),
    ]
    inputs = [_vec("x"), helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
              helper.make_tensor_value_info("trips", TensorProto.INT64, [])]
    model = _model(nodes, inputs, [_vec("looped")])
    toy, cpu, fallbacks = _sessions(model)
    by_graph = {}
    for p in toy.get_provider_assignment():
        by_graph.setdefault(p.graph, []).append((p.provider, p.nodes))
    assert by_graph["g"] == [(TOY, ("outer_relu",)), (CPU, ("choose", "repeat"))]
    assert by_graph["g/then"] == [(TOY, ("then_relu", "then_add")), (CPU, ("then_neg",))]
    assert by_graph["g/else"] == [(TOY, ("else_relu", "else_add")), (CPU, ("else_neg",))]
    assert by_graph["g/loop_body"] == [(TOY, ("body_relu", "body_add")), (CPU, ("body_sub", "body_cond"))]
    named = " ".join(str(w.message) for w in fallbacks)
    for node in ("choose", "repeat", "then_neg", "else_neg", "body_sub"):
        assert f'"{node}"' in named
    x = np.array([-1.0, 2.0, -3.0, 4.0], np.float32)
    for flag in (True, False):
        _same_results(toy, cpu, {"x": x, "flag": np.array(flag), "trips": np.array(3, np.int64)})


def test_set_providers_plans_again():
    session = ort.InferenceSession(chain_model(), providers=[CPU])
    assert [p.provider for p in session.get_provider_assignment()] == [CPU]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderFallbackWarning)
        session.set_providers([TOY, CPU])
    assert session.get_providers() == [TOY, CPU]
    assert {p.provider for p in session.get_provider_assignment()} == {TOY, CPU}


def test_cpu_listed_first_still_runs_last():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderFallbackWarning)
        session = ort.InferenceSession(chain_model(), providers=[CPU, TOY])
    assert session.get_providers() == [TOY, CPU]


def test_inspect_shows_the_partitions(tmp_path):
    path = tmp_path / "chain.onnx"
    path.write_bytes(chain_model())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderFallbackWarning)
        result = CliRunner().invoke(main, ["inspect", str(path), "--providers-list", f"{TOY},{CPU}", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    assert payload["providers"] == [TOY, CPU]
    assert [p["provider"] for p in payload["partitions"]] == [TOY, CPU, TOY, CPU]
    table = CliRunner().invoke(main, ["inspect", str(path), "--providers"])
    assert table.exit_code == 0 and "CPUExecutionProvider" in table.output and TOY not in table.output


def test_cpu_fusions_stay_inside_cpu_partitions():
    """Conv -> Relu -> Conv -> Sigmoid: alone, the CPU provider fuses each pair into a FusedConv;
    with the toy provider running the Relu, the first Conv stays plain and the second pair,
    one CPU partition, still fuses."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((2, 4, 1, 1)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Sigmoid", ["c2"], ["y"], name="sigmoid"),
    ]
    model = _model(nodes, [helper.make_tensor_value_info("x", FLOAT, [1, 3, 8, 8])],
                   [helper.make_tensor_value_info("y", FLOAT, [1, 2, 8, 8])], [w1, w2])
    toy, cpu, _ = _sessions(model)
    assert [n.op_type for n in cpu._model.graph.nodes] == ["FusedConv", "FusedConv"]
    assert [(p.provider, p.op_types) for p in toy.get_provider_assignment()] == [
        (CPU, ("Conv",)), (TOY, ("Relu",)), (CPU, ("FusedConv",))]
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(toy.run(None, {"x": x})[0], cpu.run(None, {"x": x})[0], rtol=1e-6, atol=1e-6)


def test_optimized_model_with_a_provider_is_valid_onnx(tmp_path):
    import onnx

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "opt.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderFallbackWarning)
        ort.InferenceSession(chain_model(), options, providers=[TOY, CPU])
    onnx.checker.check_model(onnx.load(options.optimized_model_filepath), full_check=True)
