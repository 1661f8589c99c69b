"""The fuzzer's short run (see tests/fuzz and docs/security.md): 300 cases, fixed seed."""

import pytest

from fuzz import run_campaign

CASES = 300


def aliasing(failure) -> bool:
    return "memory" in failure[1]["problem"]


@pytest.fixture(scope="module")
def report():
    return run_campaign(cases=CASES, seed_value=0, timeout_s=60)


def test_fuzz_cases_only_raise_onyx_errors_never_crash_hang_or_read_outside_the_folder(report):
    assert sum(report.outcomes.values()) == CASES
    assert report.outcomes["ran"] > CASES // 10
    others = [f for f in report.failures if not aliasing(f)]
    assert not others, report.summary()


@pytest.mark.xfail(strict=True, reason=(
    "issue 12 item 3: an output that is a feed (Identity(x)) or that is another output (Y and "
    "Identity(Y)) is returned as the same array; the compat branch copies them. Remove this "
    "marker when it lands (strict: an unexpected pass fails the run)"))
def test_fuzz_outputs_never_share_memory_with_feeds_or_each_other(report):
    assert not [f for f in report.failures if aliasing(f)], report.summary()
