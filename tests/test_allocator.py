"""rnnkit.allocator: freed tensor memory is reused instead of page-faulted back every step.

Each case runs in a fresh interpreter (malloc settings are process-wide and cannot be undone)
and counts the minor page faults of forward + backward steps of a 2-layer LSTM.
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

PROGRAM = """
import json, resource, torch
from rnnkit.allocator import keep_freed_memory
kept = keep_freed_memory()
torch.manual_seed(0)
lstm = torch.nn.LSTM(28, 128, num_layers=2, batch_first=True)
x = torch.rand(100, 28, 28)

def step():
    out, _ = lstm(x)
    out.sum().backward()

for _ in range(10):  # warm-up: the first touch of new memory always faults
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "faults_per_step": faults / 10}))
"""


def run(program: str, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("RNNKIT_KEEP_FREED_MEMORY", None)
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_freed_memory_is_reused_without_page_faults():
    kept = run(PROGRAM, {})
    assert kept["kept"] is True
    # glibc's defaults gave ~7,800 faults a step here (how many depends on the allocator's
    # history, as its thresholds adapt, so that side is not asserted); the setting gives none
    assert kept["faults_per_step"] < 10


MMAPPED = """
import ctypes, json, torch
from rnnkit.allocator import keep_freed_memory
kept = keep_freed_memory()

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
tensor = torch.ones(6 << 20)  # 24 MiB
print(json.dumps({"kept": kept, "mmapped_mib": (libc.mallinfo2().hblkhd - before) >> 20}))
"""


def test_large_blocks_come_from_the_heap():
    """glibc maps a 24 MiB block on its own (and unmaps it when freed); with the setting it is
    carved from the heap, where a freed block stays for the next step."""
    kept = run(MMAPPED, {})
    default = run(MMAPPED, {"RNNKIT_KEEP_FREED_MEMORY": "0"})
    assert (kept["kept"], kept["mmapped_mib"]) == (True, 0)
    assert (default["kept"], default["mmapped_mib"]) == (False, 24)


def test_users_own_glibc_settings_win():
    assert run(PROGRAM, {"MALLOC_TRIM_THRESHOLD_": "1000000"})["kept"] is False
