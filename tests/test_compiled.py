"""The compiled-kernel layer (onyx.compiled, the [fast] extra): compiled at preparation and
never in a run, cached on disk in onyx's own folder, Numba failures falling back to NumPy,
work shared over the run's threads, and the kernel each node got shown."""

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

import onyx
from onyx import compiled
from onyx.ops import threads

SRC = str(Path(__file__).parents[1] / "src")
needs_numba = pytest.mark.skipif(not compiled.installed(), reason="the [fast] extra (Numba) is not installed")

KERNEL_MODULE = '''
from onyx.compiled import jit

@jit("void(float32[::1], float32[::1])", "void(float64[::1], float64[::1])")
def double(x, out):
    for i in range(x.size):
        out[i] = 2 * x[i]
'''

REPORT = '''
import json, sys
import numpy as np
import double_kernel
dispatcher = double_kernel.double.compiled()
x = np.arange(3, dtype=np.float32)
out = np.empty_like(x)
dispatcher(x, out)
stats = dispatcher.stats
print(json.dumps({"out": out.tolist(), "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "path": stats.cache_path}))
'''


def _run_kernel_process(module_dir: Path, cache: Path | None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(module_dir)])}
    env.pop("NUMBA_CACHE_DIR", None)
    if cache is not None:
        env[compiled.CACHE_ENV] = str(cache)
    done = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_numba
def test_compiled_code_is_cached_in_onyx_folder_and_reused_by_the_next_process(tmp_path):
    (tmp_path / "double_kernel.py").write_text(KERNEL_MODULE)
    cache = tmp_path / "cache"
    first = _run_kernel_process(tmp_path, cache)
    second = _run_kernel_process(tmp_path, cache)
    assert first["out"] == second["out"] == [0.0, 2.0, 4.0]
    assert (first["hits"], first["misses"]) == (0, 2)  # both signatures compiled at compiled()
    assert (second["hits"], second["misses"]) == (2, 0)
    assert Path(first["path"]).is_relative_to(cache)
    assert not (tmp_path / "__pycache__").exists() or not any((tmp_path / "__pycache__").glob("*.nbi"))


@needs_numba
def test_an_unwritable_cache_folder_means_compiling_without_a_cache(tmp_path):
    (tmp_path / "double_kernel.py").write_text(KERNEL_MODULE)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    result = _run_kernel_process(tmp_path, blocker / "cache")
    assert result["out"] == [0.0, 2.0, 4.0] and result["path"] is None


@needs_numba
def test_a_compiled_function_compiles_what_a_node_needs_and_never_in_a_run():
    @compiled.jit("void(float32[::1], float32[::1])", "void(float64[::1], float64[::1])")
    def copy(x, out):
        for i in range(x.size):
            out[i] = x[i]

    dispatcher = copy.compiled("float32")
    assert len(dispatcher.signatures) == 1
    with pytest.raises(TypeError):  # float64 is declared but was not asked for: no compiling in a run
        dispatcher(np.zeros(2), np.zeros(2))
    assert copy.compiled() is dispatcher and len(dispatcher.signatures) == 2
    with pytest.raises(TypeError):
        dispatcher(np.zeros(2, np.int64), np.zeros(2, np.int64))


def test_jit_needs_signatures_and_leaves_threads_and_caching_to_onyx():
    with pytest.raises(TypeError, match="signatures"):
        compiled.jit()(lambda x: x)
    with pytest.raises(TypeError, match="parallel_for"):
        compiled.jit("void(float32[::1])", parallel=True)(lambda x: None)


def test_numba_that_does_not_import_warns_once_and_leaves_numpy(monkeypatch):
    compiled.numba_module.cache_clear()
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    try:
        fn = compiled.jit("void(float32[::1])")(lambda x: None)
        with pytest.warns(RuntimeWarning, match="does not import"):
            assert fn.compiled() is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert fn.compiled() is None
            assert compiled.jit("void(float64[::1])")(lambda x: None).compiled() is None
    finally:
        compiled.numba_module.cache_clear()


def test_the_environment_gives_the_default_and_the_config_entry_wins(monkeypatch):
    monkeypatch.setenv(compiled.COMPILED_KERNELS_ENV, "0")
    assert not compiled.wanted(None)
    assert compiled.wanted("1") == compiled.installed()
    monkeypatch.setenv(compiled.COMPILED_KERNELS_ENV, "on")
    with pytest.raises(onyx.InvalidArgument, match=compiled.COMPILED_KERNELS_ENV):
        compiled.wanted(None)
    monkeypatch.delenv(compiled.COMPILED_KERNELS_ENV)
    assert compiled.wanted(None) == compiled.installed()
    assert not compiled.wanted("0")


def test_parallel_for_shares_the_range_over_the_runs_threads():
    calls, lock = [], threading.Lock()

    def loop(start, stop, out):
        with lock:
            calls.append((start, stop))
        out[start:stop] += 1

    out = np.zeros(1000, np.int64)
    with threads.limit(3):
        compiled.parallel_for(loop, 1000, out, grain=100)
    assert sorted(calls) == [(0, 333), (333, 666), (666, 1000)]
    calls.clear()
    with threads.limit(3):
        compiled.parallel_for(loop, 150, out, grain=100)  # too little work to share
    assert calls == [(0, 150)]
    np.testing.assert_array_equal(out, np.r_[np.full(150, 2), np.ones(850)])


def _probe_model() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Probe", ["x"], ["y"], domain="test.compiled", name="probe"),
         helper.make_node("Relu", ["y"], ["z"], name="relu")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.compiled", 1)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def probe_kernel(monkeypatch):
    """A preparing kernel naming itself after whether the session allows compiled kernels."""
    from onyx.ops import registry

    monkeypatch.setitem(registry._KERNELS, ("test.compiled", "Probe"), [])

    @registry.kernel("Probe", 1, domain="test.compiled", prepare=True)
    def probe(*, _node):
        return compiled.named(lambda x: x + 1, "compiled-probe" if _node.compiled else "numpy")


def test_the_assignment_and_inspect_show_the_kernel_of_each_node(probe_kernel, tmp_path):
    options = onyx.SessionOptions()
    options.add_session_config_entry(compiled.COMPILED_KERNELS_KEY, "1")
    session = onyx.InferenceSession(_probe_model(), options)
    (part,) = session.get_provider_assignment()
    assert part.kernels == ("compiled-probe" if compiled.installed() else "numpy", "numpy")
    path = tmp_path / "probe.onnx"
    path.write_bytes(_probe_model())
    from onyx.cli import main

    result = CliRunner().invoke(main, ["inspect", str(path), "--providers"])
    assert result.exit_code == 0, result.output
    kernels = result.output[result.output.index("kernels:"):]
    assert "probe" in kernels and "relu" in kernels and "Relu" in kernels
