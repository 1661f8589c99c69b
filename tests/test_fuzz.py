"""The fuzzer's short run (see tests/fuzz): 300 cases, fixed seed, every invariant held."""

from fuzz import run_campaign


def test_fuzz_cases_only_raise_onyx_errors_and_keep_every_invariant():
    report = run_campaign(cases=300, seed_value=0, timeout_s=60)
    assert sum(report.outcomes.values()) == 300
    assert not report.failures, report.summary()
