"""glibc malloc settings for CPU inference: keep freed memory for reuse instead of returning it.

PyTorch on a CPU takes every activation from malloc and frees it when the next layer is done.
By default glibc serves blocks above a (dynamic) threshold with fresh ``mmap`` pages and gives
freed memory at the top of the heap back to the system, so every pass faults its activations in
again, page by page: a cost per allocation that grows with its size and that no GFLOPs count
shows. Measured on 2 CPU cores, X3D-S without SGS, batch 8, 64², 2026-12-03: with
:func:`keep_freed_memory` a batch took 237-245 ms of CPU time on one thread, against 300-343 ms
with glibc's defaults (two runs each, alternated); with like settings given as
``GLIBC_TUNABLES`` to ``benchmarks/backbones.py`` (two threads), 127 and 125 ms of wall time
against 208 and 195 ms.

``atfr predict`` on a CPU and the benchmark call :func:`keep_freed_memory` once. The price is
that up to :data:`TRIM_THRESHOLD` of freed memory stays with the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap, not from mmap: the largest value every glibc accepts
# on 64-bit systems (older ones refuse more than half their heap size). Every activation of a 64²
# pass is smaller; at 160² the largest ones, before SGS, are not.
MMAP_THRESHOLD = 32 * 1024 * 1024
# Freed memory at the top of the heap up to this size is kept for the next pass.
TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process; False (nothing changed) without glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt to speak of)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on a refused value.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
