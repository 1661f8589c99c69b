"""NumPy's huge-page hint: left alone by default; a session that opts in creates without it
and always restores it."""

from pathlib import Path

import numpy as np
import pytest

import onyx
from onyx.errors import OnyxError
from onyx.options import PROCESS_REGULAR_PAGES
from onyx.runtime import pages

DIGITS = str(Path(__file__).parents[1] / "examples" / "digits" / "digits.onnx")


@pytest.fixture
def hint_calls(monkeypatch) -> list:
    """Calls of NumPy's hint switch, a fake that starts from the setting 'on'."""
    calls = []

    def fake_switch(enabled: bool) -> bool:
        previous = calls[-1] if calls else True
        calls.append(enabled)
        return previous

    monkeypatch.setattr(pages, "_hint_setter", lambda: fake_switch)
    return calls


def opted_in() -> onyx.SessionOptions:
    options = onyx.SessionOptions()
    options.add_session_config_entry(PROCESS_REGULAR_PAGES, "1")
    return options


def test_by_default_creation_leaves_the_hint_alone(hint_calls):
    onyx.InferenceSession(DIGITS)
    assert hint_calls == []


def test_creation_opted_in_runs_without_the_hint_and_restores_it(hint_calls, monkeypatch):
    seen_during_load = []
    real_load = onyx.session.load_model
    monkeypatch.setattr(onyx.session, "load_model", lambda source: seen_during_load.append(hint_calls[-1]) or real_load(source))
    session = onyx.InferenceSession(DIGITS, opted_in())
    assert seen_during_load == [False]
    assert hint_calls == [False, True]
    session.run(None, {"image": np.zeros((1, 64), np.float32)})


def test_a_failed_creation_restores_the_hint(hint_calls):
    with pytest.raises(OnyxError):
        onyx.InferenceSession(b"not a model", opted_in())
    assert hint_calls == [False, True]


def test_numpy_has_the_switch():
    """The private NumPy function this relies on still exists (else creation just keeps the hint)."""
    switch = pages._hint_setter()
    assert switch is not None
    previous = switch(False)
    assert switch(previous) is False


def test_overlapping_creations_restore_the_setting_once_the_last_ends(hint_calls):
    """Two sessions created at once in two threads: the second must not 'restore' the first's off."""
    with pages.regular_pages():
        with pages.regular_pages():
            assert hint_calls == [False]
        assert hint_calls == [False]
    assert hint_calls == [False, True]
