"""Keep freed tensor memory in the process, so that the next training step reuses it.

On Linux, glibc's ``malloc`` gives large freed blocks back to the kernel (``munmap``, heap
trimming). A training step frees and allocates the same buffers again every step, and the
kernel zero-fills every page of them on first touch: with glibc's defaults a 2-layer LSTM
epoch on 2 cores spent a third of its time in minor page faults (2.9 M faults and 7.4 s of
system time for 12 epochs; epoch 2.25 s). :func:`keep_freed_memory` raises the two thresholds
so the memory stays mapped and is reused (0.13 M faults, 0.7 s, epoch 1.55 s; see
``docs/speed.md``). The process keeps its peak memory instead of returning it between steps.

:func:`rnnkit.train.fit` calls it; call it yourself before a hand-written loop. It does
nothing on other C libraries (macOS, Windows, musl), when the user has set glibc's own
``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` variables, or when
``RNNKIT_KEEP_FREED_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform

# mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # blocks up to this size come from the heap (glibc's 64-bit maximum)
TRIM_THRESHOLD = 1 << 30  # the heap's free top is given back only above this size


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc ``malloc`` to keep freed blocks for reuse; True if the setting is in force.

    Idempotent and process-wide: the first call decides, later calls return its answer.
    """
    if os.environ.get("RNNKIT_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False  # the user tuned glibc already
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; setting either threshold also stops glibc adjusting them
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
