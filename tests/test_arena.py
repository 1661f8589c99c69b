"""glibc's malloc thresholds: set (once per process) only for a session that opts in; by
default the host process's allocator is left as it was."""

import ctypes
import platform
from pathlib import Path
from types import SimpleNamespace

import pytest

import onyx
from onyx.options import PROCESS_MALLOC_TUNING
from onyx.runtime import arena

DIGITS = str(Path(__file__).parents[1] / "examples" / "digits" / "digits.onnx")
glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena tunes glibc's allocator")


def opted_in() -> onyx.SessionOptions:
    options = onyx.SessionOptions()
    options.add_session_config_entry(PROCESS_MALLOC_TUNING, "1")
    return options


@glibc_only
def test_a_session_that_opts_in_tunes_malloc_once_per_process(monkeypatch):
    calls = []

    class FakeMallopt:
        argtypes = None

        def __call__(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(arena, "_enabled", False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: SimpleNamespace(mallopt=FakeMallopt()))
    onyx.InferenceSession(DIGITS, opted_in())
    assert calls == [(-3, 32 << 20), (-1, 1 << 30)]
    onyx.InferenceSession(DIGITS, opted_in())
    assert len(calls) == 2  # once per process


@pytest.mark.parametrize("arena_option", [True, False])
def test_by_default_sessions_leave_the_allocator_alone(monkeypatch, arena_option):
    """enable_cpu_mem_arena (onnxruntime's option, on by default there) does not change the
    host process's allocator."""
    monkeypatch.setattr(arena, "_enabled", False)
    monkeypatch.setattr(arena, "enable", lambda: pytest.fail("malloc was tuned"))
    options = onyx.SessionOptions()
    options.enable_cpu_mem_arena = arena_option
    onyx.InferenceSession(DIGITS, options)
    onyx.InferenceSession(DIGITS)


@glibc_only
def test_enable_on_glibc_succeeds():
    assert arena.enable() is True
