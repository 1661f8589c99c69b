"""onyx.ops.threads: parallel_map and the session's intra_op_num_threads."""

import threading

import numpy as np
import pytest

import onyx
from onyx.ops import threads
from models import mlp_model


def test_parallel_map_keeps_order_and_uses_the_run_threads():
    seen = set()

    def work(i):
        seen.add(threading.get_ident())
        return i * i

    with threads.limit(3):
        assert threads.count() == 3
        assert threads.parallel_map(work, list(range(10))) == [i * i for i in range(10)]
    assert threading.get_ident() in seen and len(seen) >= 2  # the caller takes a share, the pool the rest


def test_one_thread_runs_in_the_caller():
    seen = set()
    with threads.limit(1):
        threads.parallel_map(lambda i: seen.add(threading.get_ident()), range(4))
    assert seen == {threading.get_ident()}


def test_nested_parallel_map_runs_serially_inside_a_share():
    def inner(i):
        return threads.parallel_map(lambda j: (i, j, threading.get_ident()), range(3))

    with threads.limit(2):
        for rows in threads.parallel_map(inner, range(4)):
            assert len({ident for _, _, ident in rows}) == 1


def test_an_error_in_a_share_reaches_the_caller_after_every_share_ends():
    finished = []

    def work(i):
        if i == 0:
            raise ValueError("share 0 failed")
        finished.append(i)

    with threads.limit(2), pytest.raises(ValueError, match="share 0 failed"):
        threads.parallel_map(work, [0, 1])
    assert finished == [1]


def test_tree_ensemble_gives_the_same_result_on_one_and_two_threads(tmp_path):
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)
    model = to_onnx(RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y), X[:1],
                    options={"zipmap": False}).SerializeToString()
    results = []
    for n in (1, 2):
        options = onyx.SessionOptions()
        options.intra_op_num_threads = n
        results.append(onyx.InferenceSession(model, options).run(None, {"X": X}))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_the_default_is_one_thread_per_usable_cpu():
    with threads.limit(0):
        assert threads.count() == threads.usable_cpus() >= 1


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_concurrent_limited_runs_leave_the_blas_thread_count_as_they_found_it():
    """Runs with intra_op_num_threads=1 in several threads at once overlap: each used to restore
    the count it saw on entry, which another run had lowered to 1, and the process kept 1."""
    before = _blas_threads()
    options = onyx.SessionOptions()
    options.intra_op_num_threads = 1
    session = onyx.InferenceSession(mlp_model().SerializeToString(), options)
    feed = {"x": np.ones((4, 16), np.float32)}
    start = threading.Barrier(4)

    def runs():
        start.wait()
        for _ in range(200):
            session.run(None, feed)

    workers = [threading.Thread(target=runs) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert _blas_threads() == before


def test_overlapping_blas_limits_hold_the_smallest_and_restore_once_the_last_ends():
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("needs a BLAS library with at least 2 threads")
    first, second = threads.limit_blas(controller, 2), threads.limit_blas(controller, 1)
    first.__enter__()
    second.__enter__()
    assert set(_blas_threads()) == {1}
    first.__exit__(None, None, None)  # the first run ends while the second still runs
    assert set(_blas_threads()) == {1}
    second.__exit__(None, None, None)
    assert _blas_threads() == before
