"""glibc malloc settings for CPU inference (``atfr_lightning.cpu_memory``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

import pytest

from atfr_lightning import cpu_memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_both_thresholds():
    assert cpu_memory.keep_freed_memory() is True
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    assert libc.mallopt(cpu_memory.M_MMAP_THRESHOLD, cpu_memory.MMAP_THRESHOLD) == 1
    assert libc.mallopt(cpu_memory.M_TRIM_THRESHOLD, cpu_memory.TRIM_THRESHOLD) == 1


def test_nothing_changes_off_linux(monkeypatch):
    monkeypatch.setattr(cpu_memory.sys, "platform", "darwin")
    assert cpu_memory.keep_freed_memory() is False


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch):
    class NoMallopt:
        def __init__(self, *args) -> None:
            pass

    monkeypatch.setattr(cpu_memory.ctypes, "CDLL", NoMallopt)
    assert cpu_memory.keep_freed_memory() is False
