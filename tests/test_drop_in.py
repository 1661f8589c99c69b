"""Running onnxruntime code on onyx: the alias module, `onyx exec`, version reporting, and
the behaviours real applications rely on (onyx-only checks; side by side ones are in tests/compat)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from onnx import TensorProto, helper

import onyx
from models import add_model

APP = textwrap.dedent(
    """
    import sys
    import numpy as np
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument, NoSuchFile
    from onnxruntime.capi import _pybind_state as C
    try:
        ort.InferenceSession("absent.onnx")
    except NoSuchFile:
        pass
    print(ort.__version__, ort.onyx_version, ort.InferenceSession.__module__, C.Fail.__module__, sys.argv[1:])
    """
)


def _python(*args, **kwargs):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, **kwargs)


def test_install_as_onnxruntime_resolves_onnxruntime_and_capi_to_onyx_until_uninstalled():
    code = "import onyx; onyx.install_as_onnxruntime()\n" + APP + textwrap.dedent(
        """
        try:
            import onnxruntime.quantization
        except ModuleNotFoundError as e:
            print("missing:", e)
        onyx.uninstall_as_onnxruntime()
        import onnxruntime
        print("real again:", not hasattr(onnxruntime, "onyx_version"))
        """
    )
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == [onyx.ONNXRUNTIME_API_VERSION, onyx.__version__, "onyx.session", "onyx.errors"]
    assert "onyx stands in for onnxruntime" in lines[1] and lines[2] == "real again: True"


def test_install_after_the_real_onnxruntime_was_imported_is_refused(monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    with pytest.raises(onyx.Fail, match="imported already"):
        onyx.install_as_onnxruntime()
    assert not onyx.alias.is_installed()


def test_exec_runs_an_unmodified_script_on_onyx_keeping_a_hidden_sitecustomize(tmp_path):
    import os

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import os; os.environ['HIDDEN_SITECUSTOMIZE'] = 'ran'\n")
    script = tmp_path / "app.py"
    script.write_text("import sys; print('onyx imported at start-up:', 'onyx' in sys.modules)\n" + APP
                      + "import os; print(os.environ.get('HIDDEN_SITECUSTOMIZE'))\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = _python("-m", "onyx.exec", sys.executable, str(script), "--flag", "value", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    start, first, second = result.stdout.splitlines()
    assert start.endswith("False")  # a process that never imports onnxruntime does not pay for onyx
    assert first.split()[:3] == [onyx.ONNXRUNTIME_API_VERSION, onyx.__version__, "onyx.session"]
    assert "'--flag', 'value'" in first and second == "ran"


def test_exec_command_line():
    from onyx.exec import SITE_DIR, child_environment, command_line, run

    assert command_line(["--", "python", "app.py"]) == ["python", "app.py"]
    assert command_line(["app.py", "-v"]) == [sys.executable, "app.py", "-v"]
    assert child_environment({"PYTHONPATH": "/x"})["PYTHONPATH"].split(__import__("os").pathsep) == [SITE_DIR, "/x"]
    assert run([]) == 2


def test_command_line_help_answers_to_h_and_lists_exec():
    from click.testing import CliRunner

    from onyx.cli import main

    result = CliRunner().invoke(main, ["-h"])
    assert result.exit_code == 0 and "exec" in result.output


def test_version_is_onyxs_and_the_onnxruntime_api_level_is_reported_separately():
    assert onyx.__version__ != onyx.ONNXRUNTIME_API_VERSION
    assert onyx.get_version_string() == onyx.ONNXRUNTIME_API_VERSION
    assert onyx.ONNXRUNTIME_API_VERSION in onyx.get_build_info()


def test_onyx_errors_are_caught_by_onnxruntimes_class_names():
    from onyx.capi.onnxruntime_pybind11_state import Fail, NotImplemented, RuntimeException

    assert issubclass(onyx.KernelError, RuntimeException) and issubclass(onyx.KernelError, Fail)
    assert issubclass(onyx.ModelLoadError, Fail)
    assert NotImplemented is onyx.UnsupportedOperator


def test_set_seed_makes_unseeded_random_operators_repeat():
    graph = helper.make_graph([helper.make_node("RandomUniform", [], ["y"], shape=[4])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onyx.SessionOptions()
    options.graph_optimization_level = onyx.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = onyx.InferenceSession(model, options)
    onyx.set_seed(7)
    first = sess.run(None, {})[0]
    onyx.set_seed(7)
    np.testing.assert_array_equal(sess.run(None, {})[0], first)


def test_free_dimension_override_by_denotation():
    model = add_model(shape_a=["batch", 3], shape_b=["batch", 3])
    for value_info in model.graph.input:
        value_info.type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    options = onyx.SessionOptions()
    options.add_free_dimension_override_by_denotation("DATA_BATCH", 2)
    sess = onyx.InferenceSession(model, options)
    assert sess.get_inputs()[0].shape == [2, 3]
    with pytest.raises(onyx.InvalidArgument):
        sess.run(None, {"a": np.ones((1, 3), np.float32), "b": np.ones((1, 3), np.float32)})


def test_python_m_onyx_runs_a_model_with_negative_dims(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 3])])
    path = tmp_path / "negative.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    result = _python("-m", "onyx", "run", str(path))
    assert result.returncode == 0, result.stderr
    assert "y: float32 [1, 3]" in result.stdout


# issue 12, item 3: outputs never alias each other or a feed; array subclasses do not leak


def _identity_twice_model(shape=(2,)):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Identity", ["y"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None), helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("level", [onyx.GraphOptimizationLevel.ORT_DISABLE_ALL, onyx.GraphOptimizationLevel.ORT_ENABLE_ALL])
def test_outputs_that_are_one_array_do_not_alias(level):
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    x = np.ones(2, np.float32)
    y, z = onyx.InferenceSession(_identity_twice_model(), options).run(None, {"x": x})
    y[0] = 5
    assert z[0] == 1 and x[0] == 1


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, fed on purpose
@pytest.mark.parametrize("make", [lambda a: np.ma.masked_array(a, mask=[[False, True]]), np.asmatrix], ids=["masked", "matrix"])
def test_array_subclasses_fed_in_do_not_leak_into_outputs(make):
    feed = make(np.array([[1.0, -2.0]], dtype=np.float32))
    y, z = onyx.InferenceSession(_identity_twice_model((1, 2))).run(None, {"x": feed})
    assert type(y) is np.ndarray and type(z) is np.ndarray
    np.testing.assert_array_equal(y, [[1.0, -2.0]])


def test_python_scalars_take_the_declared_type_and_numpy_scalars_must_have_it():
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.INT32, [])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [])])
    sess = onyx.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    (y,) = sess.run(None, {"x": 5})
    assert y.dtype == np.int32 and y == 5
    with pytest.raises(onyx.InvalidArgument, match="int32"):
        sess.run(None, {"x": np.int64(5)})
