"""Throughput of onyx.ray.predict with 1 and 2 actors against a plain loop (not run in CI).

Starts the tests' two-node loopback Ray cluster (tests/ray_cluster.py, 2 CPUs per node),
runs the same rows through InferenceSession.run in a plain loop in this process, then
through onyx.ray.predict with 1 and 2 actors, and prints rows/s end to end (what a user waits
for, actor start-up included) and in the steady state (from the first output batch on).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/ray_batch.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ray_cluster import ENV, RayCluster  # noqa: E402

os.environ.update(ENV)  # before Ray is imported: 127.0.0.1 stays this process's address

import ray  # noqa: E402

import onyx  # noqa: E402
import onyx.ray  # noqa: E402


def plain_loop(model: str, data: np.ndarray, batch_size: int) -> float:
    session = onyx.InferenceSession(model)
    started = time.perf_counter()
    for start in range(0, len(data), batch_size):
        session.run(None, {"image": data[start:start + batch_size]})
    return len(data) / (time.perf_counter() - started)


def on_ray(model: str, data: np.ndarray, batch_size: int, actors: int) -> tuple[float, float]:
    blocks = np.array_split(data, max(1, len(data) // batch_size))  # one block per batch, spread over actors
    dataset = ray.data.from_numpy(blocks).rename_columns({"data": "image"}).materialize()
    started = time.perf_counter()
    first, rows, rows_after_first = None, 0, 0
    for batch in onyx.ray.predict(dataset, model, batch_size=batch_size, concurrency=actors).iter_batches(
            batch_size=None, batch_format="numpy"):
        rows += len(batch["label"])
        if first is None:
            first = time.perf_counter()
        else:
            rows_after_first += len(batch["label"])
    ended = time.perf_counter()
    assert rows == len(data), (rows, len(data))
    return rows / (ended - started), rows_after_first / (ended - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "examples" / "digits" / "digits.onnx"))
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    data = np.random.default_rng(0).uniform(0, 16, size=(args.rows, 64)).astype(np.float32)
    loop = plain_loop(args.model, data, args.batch_size)
    print(f"{args.rows} rows, batches of {args.batch_size}, model {Path(args.model).name}")
    print("| runner | rows/s end to end | rows/s steady |\n|---|---|---|")
    print(f"| plain loop, 1 process | {loop:,.0f} | {loop:,.0f} |")
    with RayCluster(num_cpus_per_node=2) as cluster:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes(2)
        try:
            for actors in (1, 2):
                total, steady = on_ray(args.model, data, args.batch_size, actors)
                print(f"| onyx.ray.predict, {actors} actor{'s' if actors > 1 else ''} | {total:,.0f} | {steady:,.0f} |")
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
