"""Custom operators: @onyx.custom_op, register_custom_ops_library, and plugins found through entry points."""

from __future__ import annotations

import importlib.metadata
import itertools
import textwrap

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from onyx import plugins
from onyx.providers.partition import ProviderFallbackWarning

_domains = itertools.count()


def _domain() -> str:
    """A domain no other test registers kernels in (the registry is per process)."""
    return f"test.custom{next(_domains)}"


def _model(domain: str, op: str, opset: int = 1, outputs: tuple[str, ...] = ("y",), **attrs) -> bytes:
    node = helper.make_node(op, ["x"], list(outputs), domain=domain, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, opset)])
    return model.SerializeToString()


X = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_custom_op_with_attributes_and_opset_versions():
    domain = _domain()

    @onyx.custom_op(domain, "Shift", since=1)
    def shift_v1(x, *, by=1.0):
        return x + np.float32(by)

    @onyx.custom_op(domain, "Shift", since=3)
    def shift_v3(x, *, by=1.0):
        return x - np.float32(by)

    run = lambda model: onyx.InferenceSession(model).run(None, {"x": X})[0]  # noqa: E731
    np.testing.assert_array_equal(run(_model(domain, "Shift")), X + 1)
    np.testing.assert_array_equal(run(_model(domain, "Shift", opset=2, by=2.5)), X + 2.5)
    np.testing.assert_array_equal(run(_model(domain, "Shift", opset=5)), X - 1)
    with pytest.raises(onyx.InvalidGraph, match="attribute.*'scale'"):
        onyx.InferenceSession(_model(domain, "Shift", scale=2.0))


def test_custom_op_with_several_outputs():
    domain = _domain()

    @onyx.custom_op(domain, "Split2")
    def split2(x):
        return x[:, :1], x[:, 1:]

    a, b = onyx.InferenceSession(_model(domain, "Split2", outputs=("a", "b"))).run(None, {"x": X})
    np.testing.assert_array_equal(a, X[:, :1])
    np.testing.assert_array_equal(b, X[:, 1:])


def test_custom_op_refuses_standard_domains_and_duplicates():
    with pytest.raises(onyx.InvalidArgument, match="standard ONNX domain"):
        onyx.custom_op("", "Relu", since=1)
    domain = _domain()
    onyx.custom_op(domain, "Once")(lambda x: x)
    with pytest.raises(onyx.InvalidArgument, match="registered twice"):
        onyx.custom_op(domain, "Once")(lambda x: x)


def test_register_custom_ops_library_imports_a_python_file(tmp_path):
    domain = _domain()
    (tmp_path / "my_ops.py").write_text(textwrap.dedent(f"""
        import onyx

        @onyx.custom_op("{domain}", "Double", since=1)
        def double(x):
            return x * 2
    """))
    options = onyx.SessionOptions()
    options.register_custom_ops_library(str(tmp_path / "my_ops.py"))
    options.register_custom_ops_library(str(tmp_path / "my_ops.py"))  # a second call is harmless
    result = onyx.InferenceSession(_model(domain, "Double"), options).run(None, {"x": X})[0]
    np.testing.assert_array_equal(result, X * 2)


def test_register_custom_ops_library_imports_a_module_by_name(tmp_path, monkeypatch):
    domain = _domain()
    (tmp_path / "named_ops_module.py").write_text(
        f"import onyx\nonyx.custom_op('{domain}', 'Neg')(lambda x: -x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    onyx.SessionOptions().register_custom_ops_library("named_ops_module")
    np.testing.assert_array_equal(onyx.InferenceSession(_model(domain, "Neg")).run(None, {"x": X})[0], -X)


@pytest.mark.parametrize("library, message", [
    ("libcustom_ops.so", "native custom-op library; onyx runs Python kernels only"),
    ("C:\\ops\\custom.dll", "native custom-op library"),
    ("no_such_module_anywhere", "cannot be found"),
    ("missing_file.py", "does not exist"),
])
def test_register_custom_ops_library_errors(library, message):
    with pytest.raises(onyx.InvalidArgument, match=message):
        onyx.SessionOptions().register_custom_ops_library(library)


def test_a_module_that_fails_to_import_is_named(tmp_path):
    (tmp_path / "broken_ops.py").write_text("raise RuntimeError('no GPU here')\n")
    with pytest.raises(onyx.InvalidArgument, match="broken_ops.py' failed to import: RuntimeError: no GPU here"):
        onyx.SessionOptions().register_custom_ops_library(str(tmp_path / "broken_ops.py"))


def _example_package_installed() -> bool:
    try:
        importlib.metadata.distribution("onyx-example-ops")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _example_package_installed(),
                    reason="examples/custom_op is not installed (.ci/run installs it: pip install ./examples/custom_op)")
def test_installed_example_package_is_found_through_its_entry_point():
    assert "example" in {e.name for e in importlib.metadata.entry_points(group=plugins.KERNELS_GROUP)}
    x = np.linspace(-3, 3, 6, dtype=np.float32).reshape(2, 3)
    swish = onyx.InferenceSession(_model("com.example", "Swish", beta=2.0)).run(None, {"x": x})[0]
    np.testing.assert_allclose(swish, x / (1 + np.exp(-2 * x)), rtol=1e-6)
    low, high = onyx.InferenceSession(_model("com.example", "MinMax", outputs=("lo", "hi"), axis=0)).run(None, {"x": x})
    np.testing.assert_array_equal(low, x.min(0))
    np.testing.assert_array_equal(high, x.max(0))


def _fake_distribution(tmp_path, monkeypatch, name: str, module: str, entry_points: str) -> None:
    """An installed package (a dist-info folder on sys.path) of the module ``name`` (source
    ``module``) declaring ``entry_points``."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(module))
    info = tmp_path / "fake_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_entry_points_register_kernels(tmp_path, monkeypatch):
    domain = _domain()
    _fake_distribution(tmp_path, monkeypatch, "fake_kernel_plugin", f"""
        import onyx

        def register():
            onyx.custom_op("{domain}", "Square")(lambda x: x * x)
    """, "[onyx.kernels]\nfake = fake_kernel_plugin:register\nbroken = no_such_plugin_module\n")
    with pytest.warns(RuntimeWarning, match="kernel plugin 'broken'.*failed to load"):
        loaded = plugins.load_kernel_plugins()
    assert "fake" in loaded and "broken" not in loaded
    np.testing.assert_array_equal(onyx.InferenceSession(_model(domain, "Square")).run(None, {"x": X})[0], X * X)


def test_entry_points_register_providers_and_skip_broken_ones(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, monkeypatch, "fake_provider_plugin", """
        import numpy as np
        from onyx.providers import ExecutionProvider

        class DoublingProvider(ExecutionProvider):
            name = "FakePluginExecutionProvider"

            def capability(self, graph, opset):
                return [n for n in graph.nodes if n.op_type == "Relu"]

            def compile(self, partition, graph):
                return lambda x: (2 * np.maximum(x, 0),)  # wrong on purpose: shows who ran the node

        class NotAProvider:
            name = "NotAProviderExecutionProvider"
    """, "[onyx.providers]\nfake = fake_provider_plugin:DoublingProvider\nbroken = no_such_plugin_module\n"
         "plain = fake_provider_plugin:NotAProvider\ncpu = onyx.providers:CPUProvider\n")
    try:
        with pytest.warns(RuntimeWarning) as caught:
            registered = plugins.load_provider_plugins()
        assert "FakePluginExecutionProvider" in registered and "NotAProviderExecutionProvider" not in registered
        messages = "\n".join(str(w.message) for w in caught)
        assert "provider plugin 'broken' (no_such_plugin_module) failed to load: ModuleNotFoundError" in messages
        assert "provider plugin 'plain' names" in messages and "not an onyx.providers.ExecutionProvider" in messages
        assert "provider plugin 'cpu' declares 'CPUExecutionProvider', the name of a provider onyx has" in messages
        assert "FakePluginExecutionProvider" in onyx.get_available_providers()
        model = helper.make_model(helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 17)])
        session = onyx.InferenceSession(model.SerializeToString(), providers=["FakePluginExecutionProvider"])
        np.testing.assert_array_equal(session.run(None, {"x": X - 2})[0], 2 * np.maximum(X - 2, 0))
    finally:
        onyx.providers.unregister_provider("FakePluginExecutionProvider")


@pytest.mark.skipif(not _example_package_installed(),
                    reason="examples/custom_op is not installed (.ci/run installs it: pip install ./examples/custom_op)")
def test_installed_example_provider_is_listed_and_runs_its_nodes():
    assert "ExampleExecutionProvider" in onyx.get_available_providers()
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Exp", ["r"], ["e"]),
             helper.make_node("Neg", ["e"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    with pytest.warns(ProviderFallbackWarning, match="unnamed Exp node"):
        session = onyx.InferenceSession(model, providers=["ExampleExecutionProvider", "CPUExecutionProvider"])
    assert session.get_providers() == ["ExampleExecutionProvider", "CPUExecutionProvider"]
    assert [p.provider for p in session.get_provider_assignment()] == [
        "ExampleExecutionProvider", "CPUExecutionProvider", "ExampleExecutionProvider"]
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], -np.exp(np.maximum(x, 0)), rtol=1e-6)
