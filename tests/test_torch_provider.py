"""The Torch execution provider (onyx.providers.torch) on the CPU: one GraphModule per
partition, dynamic shapes, fallback to the CPU provider, its options, onnxruntime's CUDA name,
and agreement with onnxruntime on the PyTorch fixtures and the light networks."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import onyx
from onyx.providers.partition import ProviderFallbackWarning

torch = pytest.importorskip("torch", reason="the [torch] extra is not installed")

from onyx.providers.torch import TorchExecutionProvider, build_graph_module  # noqa: E402
from test_light_models import MODELS, logits_model  # noqa: E402
from test_pytorch_models import FIXTURES, SHAPES  # noqa: E402

TORCH = ["TorchExecutionProvider", "CPUExecutionProvider"]
FLOAT = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _session(model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderFallbackWarning)
        return onyx.InferenceSession(model, providers=TORCH, **kwargs)


def _runners(session):
    return [s.fn for s in session._plan.steps if s.node.op_type == "Partition"]


def flatten_model():
    """x (batch, 2, 3) -> Shape -> Slice(batch) -> Concat(-1) -> Reshape -> MatMul(w) -> Relu."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(6, 2) / 10 - 0.5, "w")
    minus_one = numpy_helper.from_array(np.array([-1], np.int64), "minus_one")
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], end=1),
        helper.make_node("Concat", ["shape", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Relu", ["mm"], ["y"]),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", FLOAT, ["batch", 2, 3])],
                  [helper.make_tensor_value_info("y", FLOAT, ["batch", 2])], [w, minus_one])


def test_a_partition_is_one_graph_module_and_shapes_are_computed_when_it_runs():
    session = _session(flatten_model(), sess_options=_unoptimized())
    assert [p.provider for p in session.get_provider_assignment()] == ["TorchExecutionProvider"]
    (runner,) = _runners(session)
    assert isinstance(runner.module, torch.fx.GraphModule)
    assert [n.op for n in runner.module.graph.nodes].count("call_function") == 5
    cpu = onyx.InferenceSession(flatten_model())
    for batch in (1, 4, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 2, 3)).astype(np.float32)
        (got,) = session.run(None, {"x": x})
        assert type(got) is np.ndarray and got.shape == (batch, 2) and got.dtype == np.float32
        np.testing.assert_allclose(got, cpu.run(None, {"x": x})[0], rtol=1e-6, atol=1e-6)


def _unoptimized():
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def test_nodes_it_cannot_convert_exactly_fall_back_to_the_cpu_with_a_warning():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Det", ["r"], ["d"], name="det"),  # no converter
        helper.make_node("Mod", ["r", "r"], ["m"], name="float_mod"),  # float Mod needs fmod=1
        helper.make_node("Add", ["d", "d"], ["y"], name="add"),
    ]
    model = _model(nodes, [helper.make_tensor_value_info("x", FLOAT, [3, 3])],
                   [helper.make_tensor_value_info("y", FLOAT, []), helper.make_tensor_value_info("m", FLOAT, [3, 3])])
    with pytest.warns(ProviderFallbackWarning, match=r'"det" \(Det\).*"float_mod" \(Mod\)'):
        session = onyx.InferenceSession(model, providers=TORCH)
    assert [(p.provider, p.nodes) for p in session.get_provider_assignment()] == [
        ("TorchExecutionProvider", ("relu",)), ("CPUExecutionProvider", ("det", "float_mod")),
        ("TorchExecutionProvider", ("add",))]
    x = np.array([[1.0, 2, 0], [0, 1, 3], [4, 0, 1]], np.float32)
    for got, expected in zip(session.run(None, {"x": x}), onyx.InferenceSession(model).run(None, {"x": x})):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_integer_division_truncates_and_integer_sums_keep_their_type():
    nodes = [helper.make_node("Div", ["a", "b"], ["q"]),
             helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0)]
    int32 = TensorProto.INT32
    model = _model(nodes, [helper.make_tensor_value_info("a", int32, [4]), helper.make_tensor_value_info("b", int32, [4])],
                   [helper.make_tensor_value_info("q", int32, [4]), helper.make_tensor_value_info("s", int32, [])])
    session = _session(model)
    assert {p.provider for p in session.get_provider_assignment()} == {"TorchExecutionProvider"}
    q, s = session.run(None, {"a": np.array([7, -7, 9, -1], np.int32), "b": np.array([2, 2, -4, 3], np.int32)})
    assert q.dtype == np.int32 and q.tolist() == [3, -3, -2, 0]
    assert s.dtype == np.int32 and s == 8


def test_options_are_checked():
    with pytest.raises(onyx.InvalidArgument, match="device 'tpu'"):
        TorchExecutionProvider({"device": "tpu"})
    with pytest.raises(onyx.InvalidArgument, match="CUDA devices only"):
        TorchExecutionProvider({"dtype": "bfloat16"})
    with pytest.raises(onyx.InvalidArgument, match="unknown option"):
        TorchExecutionProvider({"devcie": "cpu"})
    if not torch.cuda.is_available():
        with pytest.raises(onyx.InvalidArgument, match="torch.cuda is not available"):
            TorchExecutionProvider({"device": "cuda:0"})


def test_compile_runs_the_partition_through_torch_compile():
    session = onyx.InferenceSession(flatten_model(), providers=TORCH,
                                    provider_options=[{"compile": "eager"}, {}])
    x = np.ones((2, 2, 3), np.float32)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], onyx.InferenceSession(flatten_model()).run(None, {"x": x})[0],
                               rtol=1e-6)
    assert session.get_provider_options()["TorchExecutionProvider"] == {"compile": "eager"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback of a machine without CUDA")
def test_cuda_provider_name_warns_and_falls_back_without_a_gpu():
    assert "CUDAExecutionProvider" not in onyx.get_available_providers()
    with pytest.warns(UserWarning, match="'CUDAExecutionProvider' is not in available provider names"):
        session = onyx.InferenceSession(flatten_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_torch_is_imported_only_by_sessions_that_ask_for_it():
    code = ("import sys, onyx\nfrom onnx import helper\n"
            "m = helper.make_model(helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'g', "
            "[helper.make_tensor_value_info('x', 1, [2])], [helper.make_tensor_value_info('y', 1, [2])]))\n"
            "assert 'TorchExecutionProvider' in onyx.get_available_providers()\n"
            "onyx.InferenceSession(m.SerializeToString())\nassert 'torch' not in sys.modules\n"
            "onyx.InferenceSession(m.SerializeToString(), providers=['TorchExecutionProvider'])\n"
            "assert 'torch' in sys.modules")
    src = str(Path(__file__).parents[1] / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src, "PATH": ""})


def test_build_graph_module_gives_a_trainable_module():
    model = onnx.load_from_string(flatten_model())
    from onyx.model.loader import load_model

    loaded = load_model(model.SerializeToString())
    module = build_graph_module(loaded.graph, loaded.opset, trainable=True)
    (weight,) = list(module.parameters())
    assert tuple(weight.shape) == (6, 2)
    x = torch.randn(3, 2, 3)
    (y,) = module(x)
    expected = onyx.InferenceSession(model.SerializeToString()).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    y.sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_pytorch_fixtures_agree_with_onnxruntime(name):
    path = str(FIXTURES / f"{name}.onnx")
    ours = _session(path)
    theirs = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert "TorchExecutionProvider" in {p.provider for p in ours.get_provider_assignment()}
    rng = np.random.default_rng(0)
    for shape in SHAPES[name]:
        x = rng.standard_normal(shape).astype(np.float32)
        (expected,) = theirs.run(None, {"x": x})
        (got,) = ours.run(None, {"x": x})
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("name", MODELS)
def test_light_networks_agree_with_onnxruntime_and_run_wholly_on_torch(name):
    model = logits_model(name)
    theirs = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (spec,) = theirs.get_inputs()
    image = np.random.default_rng(0).standard_normal(spec.shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProviderFallbackWarning)
        ours = onyx.InferenceSession(model, providers=TORCH)
    for got, expected in zip(ours.run(None, {spec.name: image}), theirs.run(None, {spec.name: image}), strict=True):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_the_claims_report_lists_the_converters_registered():
    from onyx.providers.torch.converters import registered

    page = (Path(__file__).parents[1] / "docs" / "torch-provider.md").read_text()
    listed = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[2] not in ("none", "converter opsets", "---"):
            listed[("" if cells[0] == "ai.onnx" else cells[0], cells[1])] = [int(v) for v in cells[2].split(", ")]
    assert listed == registered(), "docs/torch-provider.md is stale: run `python -m onyx.tools.torch_claims`"
