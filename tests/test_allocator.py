"""rnnkit.allocator: freed tensor memory is reused instead of page-faulted back every step.

Each case runs in a fresh interpreter (malloc settings are process-wide and cannot be undone)
and reads glibc's own account of the heap (``mallinfo2``), so nothing depends on the machine's
load (counting page faults did: a busy machine faulted where a quiet one did not).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the setting applies to glibc's malloc only",
)

MALLINFO = """
import ctypes, json, torch
from rnnkit.allocator import keep_freed_memory
kept = keep_freed_memory()

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
"""

REUSE = (
    MALLINFO
    + """
torch.manual_seed(0)
lstm = torch.nn.LSTM(28, 128, num_layers=2, batch_first=True)
x = torch.rand(100, 28, 28)

def step():
    out, _ = lstm(x)
    out.sum().backward()

for _ in range(10):  # warm-up: the heap grows to what a step needs
    step()
warm = libc.mallinfo2()
for _ in range(10):
    step()
again = libc.mallinfo2()
print(json.dumps({
    "kept": kept,
    "free_in_heap_mib": again.fordblks >> 20,
    "heap_growth": again.arena - warm.arena,
    "new_mappings": again.hblkhd - warm.hblkhd,
}))
"""
)

MMAPPED = (
    MALLINFO
    + """
before = libc.mallinfo2().hblkhd
tensor = torch.ones(6 << 20)  # 24 MiB
print(json.dumps({"kept": kept, "mmapped_mib": (libc.mallinfo2().hblkhd - before) >> 20}))
"""
)


def run(program: str, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("RNNKIT_KEEP_FREED_MEMORY", None)
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_steps_reuse_the_memory_they_free():
    """After warm-up, what a step frees stays in the process (no page goes back to the kernel,
    so none faults back in) and the next steps reuse it: the heap neither grows nor shrinks and
    nothing new is mapped."""
    kept = run(REUSE, {})
    assert kept["kept"] is True
    assert kept["free_in_heap_mib"] >= 10  # the freed activations, kept between steps
    assert kept["heap_growth"] == 0 and kept["new_mappings"] == 0


def test_large_blocks_come_from_the_heap():
    """glibc maps a 24 MiB block on its own (and unmaps it when freed); with the setting it is
    carved from the heap, where a freed block stays for the next step."""
    kept = run(MMAPPED, {})
    default = run(MMAPPED, {"RNNKIT_KEEP_FREED_MEMORY": "0"})
    assert (kept["kept"], kept["mmapped_mib"]) == (True, 0)
    assert (default["kept"], default["mmapped_mib"]) == (False, 24)


def test_users_own_glibc_settings_win():
    assert run(REUSE, {"MALLOC_TRIM_THRESHOLD_": "1000000"})["kept"] is False
