"""How much of the ONNX backend suite's node tests converts to PyTorch and gives the expected
outputs: onyx.torch.to_torch against onnx2torch (the existing converter; a tool for this
script only, not a dependency: ``pip install onnx2torch``).

    python bench/torch_coverage.py [--limit N] [--only REGEX] [--failures onyx|onnx2torch]

A test counts for a converter when its model converts, the module runs on the test's inputs
and every output matches the expected data within the test's tolerances. Each test runs in
this process with a time limit; the summary gives totals, and the operators (node tests named
after one operator, ``_expanded`` variants apart) with at least one passing test.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

SECONDS_PER_TEST = 20


class _TimedOut(Exception):
    pass


def _alarm(signum, frame):
    raise _TimedOut()


def converters() -> dict[str, Callable]:
    """Converter name -> function(ModelProto) -> torch.nn.Module, for those installed."""
    found = {}
    try:
        from onyx.torch import to_torch

        found["onyx"] = to_torch
    except ImportError as exc:
        print(f"onyx.torch unavailable: {exc}")
    try:
        _torchvision_stand_in()
        from onnx2torch import convert

        found["onnx2torch"] = convert
    except ImportError:
        print("onnx2torch is not installed (pip install onnx2torch): its column is left out")
    return found


def _torchvision_stand_in() -> None:
    """onnx2torch imports torchvision for its NonMaxSuppression and RoiAlign converters; the
    torchvision builds on this machine's disk do not load beside torch 2.13.0, so where it is
    missing a stand-in whose ops raise takes its place (those tests then count as failing)."""
    import importlib.util
    import types

    if importlib.util.find_spec("torchvision") is not None:
        return

    def missing(*args, **kwargs):
        raise NotImplementedError("torchvision is not installed")

    ops = types.ModuleType("torchvision.ops")
    ops.roi_align = ops.nms = ops.batched_nms = missing
    vision = types.ModuleType("torchvision")
    vision.ops = ops
    sys.modules.update({"torchvision": vision, "torchvision.ops": ops})


def _as_tuple(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def check(convert: Callable, case) -> str:
    """"pass", or why not: "convert", "run", "wrong" (outputs differ), "timeout"."""
    import torch

    inputs, expected = case.data_sets[0]
    if not all(isinstance(x, np.ndarray) for x in inputs) or not all(isinstance(y, np.ndarray) for y in expected):
        return "convert"  # sequences and optionals: neither converter takes them as tensors
    signal.alarm(SECONDS_PER_TEST)
    try:
        try:
            module = convert(case.model)
        except _TimedOut:
            raise
        except Exception:  # noqa: BLE001 - any converter failure counts the same
            return "convert"
        try:
            with torch.no_grad():
                outputs = _as_tuple(module(*(torch.from_numpy(np.array(x)) for x in inputs)))
        except _TimedOut:
            raise
        except Exception:  # noqa: BLE001
            return "run"
    except _TimedOut:
        return "timeout"
    finally:
        signal.alarm(0)
    if len(outputs) < len(expected):
        return "wrong"
    for got, want in zip(outputs, expected):
        try:
            got = got.detach().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
            if want.dtype == object or got.shape != want.shape:
                return "wrong"
            np.testing.assert_allclose(got.astype(want.dtype), want, rtol=case.rtol, atol=case.atol)
        except (AssertionError, TypeError, ValueError):
            return "wrong"
    return "pass"


def operator_of(name: str) -> str | None:
    """The operator a node test is named after (None for _expanded variants)."""
    if "_expanded" in name:
        return None
    return name[len("test_"):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N node tests")
    parser.add_argument("--only", default="", help="only the tests whose name matches this regular expression")
    parser.add_argument("--failures", default="", help="list this converter's failing tests")
    args = parser.parse_args()

    import torch
    from onnx.backend.test.loader import load_node_model_tests

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    found = converters()
    cases = [c for c in load_node_model_tests() if re.search(args.only, c.name)]
    cases = cases[: args.limit] if args.limit else cases
    results: dict[str, dict[str, str]] = {name: {} for name in found}
    for i, case in enumerate(cases, 1):
        for name, convert in found.items():
            results[name][case.name] = check(convert, case)
        if i % 200 == 0:
            print(f"  {i}/{len(cases)}: " + ", ".join(f"{n} {list(r.values()).count('pass')}" for n, r in results.items()),
                  file=sys.stderr, flush=True)

    print(f"{len(cases)} node tests (onnx {__import__('onnx').__version__}, torch {torch.__version__})")
    print(f"{'converter':<12} {'pass':>5} {'wrong':>6} {'convert':>8} {'run':>5} {'timeout':>8}   operators with a passing test")
    for name, by_case in results.items():
        counts = Counter(by_case.values())
        ops = {case.model.graph.node[0].op_type for case in cases if by_case[case.name] == "pass" and operator_of(case.name)}
        print(f"{name:<12} {counts['pass']:>5} {counts['wrong']:>6} {counts['convert']:>8} {counts['run']:>5} "
              f"{counts['timeout']:>8}   {len(ops)}")
    if len(results) == 2:
        a, b = results
        only_a = sum(1 for c in cases if results[a][c.name] == "pass" != results[b][c.name])
        only_b = sum(1 for c in cases if results[b][c.name] == "pass" != results[a][c.name])
        print(f"passing with {a} only: {only_a}; with {b} only: {only_b}")
    if args.failures in results:
        for case in cases:
            if results[args.failures][case.name] != "pass":
                print(f"  {case.name}: {results[args.failures][case.name]}")


if __name__ == "__main__":
    main()
