"""onyx.runtime.contention: runs left at intra_op_num_threads=0 that ask for it count only on
the CPUs other processes leave free."""

import numpy as np
import pytest

import onyx
from onyx.options import ADAPT_THREADS_TO_LOAD
from onyx.ops import threads
from onyx.runtime import contention
from models import mlp_model


def write_stat(path, busy_ticks: int, idle_ticks: int) -> None:
    """Two CPUs this process may use sharing the work; a third outside its affinity, busier."""
    half, rest = busy_ticks // 2, busy_ticks - busy_ticks // 2
    path.write_text(f"cpu  {busy_ticks + 10 ** 6} 0 0 {idle_ticks} 0 0 0 0 0 0\n"
                    f"cpu0 {half} 0 0 {idle_ticks // 2} 0 0 0 0 0 0\ncpu1 {rest} 0 0 {idle_ticks // 2} 0 0 0 0 0 0\n"
                    f"cpu2 {10 * busy_ticks} 0 0 0 0 0 0 0 0 0\nintr 5\n")


def test_busy_cpus_is_the_time_other_processes_used(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    clock = {"wall": 100.0, "own": 5.0}
    monkeypatch.setattr(contention.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(contention.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(contention, "_TICKS_PER_SECOND", 100)
    monkeypatch.setattr(contention.os, "sched_getaffinity", lambda pid: {0, 1})
    load = contention.OtherProcessesLoad(str(stat))
    write_stat(stat, 1000, 5000)
    assert load.busy_cpus() == 0.0  # the first sample has nothing to compare with
    # one second later: 180 ticks (1.8 CPU s) of work in all, 0.8 s of it this process's own
    clock.update(wall=101.0, own=5.8)
    write_stat(stat, 1180, 5020)
    assert abs(load.busy_cpus() - 1.0) < 1e-9
    clock.update(wall=101.01)  # within SAMPLE_SECONDS: the last estimate, the file unread
    write_stat(stat, 0, 0)
    assert abs(load.busy_cpus() - 1.0) < 1e-9


def test_unreadable_stat_counts_no_cpu_busy(tmp_path):
    assert contention.OtherProcessesLoad(str(tmp_path / "missing")).busy_cpus() == 0.0


def test_free_cpus_leaves_at_least_one(monkeypatch):
    monkeypatch.setattr(contention._load, "busy_cpus", lambda: 7.6)
    assert contention.free_cpus(2) == 1
    monkeypatch.setattr(contention._load, "busy_cpus", lambda: 0.3)
    assert contention.free_cpus(2) == 2


def test_by_default_runs_do_not_look_at_the_load(monkeypatch):
    monkeypatch.setattr(contention, "free_cpus", lambda usable: pytest.fail("the load was read"))
    onyx.InferenceSession(mlp_model().SerializeToString()).run(None, {"x": np.ones((2, 16), np.float32)})


def test_a_contended_run_uses_the_free_cpus_and_restores_the_blas_setting(monkeypatch):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(contention, "free_cpus", lambda usable: 1)
    options = onyx.SessionOptions()
    options.add_session_config_entry(ADAPT_THREADS_TO_LOAD, "1")
    session = onyx.InferenceSession(mlp_model().SerializeToString(), options)
    seen = []
    step = session._plan.steps[0]
    original = step.fn
    step.fn = lambda *args, **kw: seen.append((threads.count(), blas_threads())) or original(*args, **kw)
    session.run(None, {"x": np.ones((2, 16), np.float32)})
    assert seen[0][0] == 1 and set(seen[0][1]) <= {1}
    assert blas_threads() == before
