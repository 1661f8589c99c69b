"""The fuzzer's short run (see tests/fuzz and docs/security.md): 300 cases, fixed seed."""

from fuzz import run_campaign

CASES = 300


def test_fuzz_cases_keep_every_invariant():
    """Only OnyxErrors; no crash, hang or read outside the model's folder; feeds unchanged;
    outputs sharing memory with no feed or other output."""
    report = run_campaign(cases=CASES, seed_value=0, timeout_s=60)
    assert sum(report.outcomes.values()) == CASES
    assert report.outcomes["ran"] > CASES // 10
    assert not report.failures, report.summary()
