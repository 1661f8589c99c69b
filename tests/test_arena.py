"""The CPU memory arena: glibc's thresholds set once a session asks for it."""

import ctypes
import platform
from pathlib import Path
from types import SimpleNamespace

import pytest

import onyx
from onyx.runtime import arena

DIGITS = str(Path(__file__).parents[1] / "examples" / "digits" / "digits.onnx")
glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena tunes glibc's allocator")


@glibc_only
def test_a_session_with_the_arena_on_enables_it(monkeypatch):
    calls = []

    class FakeMallopt:
        argtypes = None

        def __call__(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(arena, "_enabled", False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: SimpleNamespace(mallopt=FakeMallopt()))
    onyx.InferenceSession(DIGITS)
    assert calls == [(-3, 32 << 20), (-1, 1 << 30)]
    onyx.InferenceSession(DIGITS)
    assert len(calls) == 2  # once per process


def test_a_session_with_the_arena_off_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setattr(arena, "_enabled", False)
    monkeypatch.setattr(arena, "enable", lambda: pytest.fail("the arena was enabled"))
    options = onyx.SessionOptions()
    options.enable_cpu_mem_arena = False
    onyx.InferenceSession(DIGITS, options)


@glibc_only
def test_enable_on_glibc_succeeds():
    assert arena.enable() is True
