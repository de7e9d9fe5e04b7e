"""Compiled LSTM time loops (``lstm_kernels.cpp``), built on first use.

The LSTM scan (:mod:`rnnkit.nn.scan`) hands its whole forward and backward time loops to C++:
the per-step matrix products go through ATen, and each step's element-wise work — gates, cell,
layer norms, and their backward — is one pass per batch row instead of a dozen small torch ops
(see ``docs/speed.md`` for the measurements). :func:`lstm_kernels` compiles the source with
``torch.utils.cpp_extension`` the first time it is needed (about 30 s; cached afterwards under
``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``) and returns the module, or
None — then the scan runs the same equations as torch ops — when there is no C++ compiler, the
build fails, or ``RNNKIT_KERNELS=0``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
from pathlib import Path
from types import ModuleType

import torch

SOURCE = Path(__file__).with_name("lstm_kernels.cpp")


def usable(x: torch.Tensor) -> bool:
    """Whether the kernels serve a scan over ``x``: CPU, float32/float64, and they are built."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and lstm_kernels() is not None
    )


def build_name(cpu_flags: str) -> str:
    """The extension's name for a processor with these feature flags.

    The build uses ``-march=native``, and torch caches it by name under the extensions folder,
    which a home directory shared between machines (a cluster, a container image) carries to
    other processors. One name per set of instruction-set flags means a cached build is only
    ever loaded where it was compiled for, not run into an illegal instruction elsewhere.
    """
    tag = hashlib.sha256(f"{platform.machine()} {cpu_flags}".encode()).hexdigest()[:10]
    return f"rnnkit_lstm_kernels_{tag}"


def _cpu_flags() -> str:
    """The instruction-set flags of this processor (Linux's ``/proc/cpuinfo``), or ''."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):  # x86, Arm
                    return " ".join(sorted(line.partition(":")[2].split()))
    except OSError:
        pass
    return ""


@functools.cache
def lstm_kernels() -> ModuleType | None:
    """The compiled module (``scan_forward``, ``scan_backward``), or None where it cannot be
    had."""
    if os.environ.get("RNNKIT_KERNELS", "1") == "0":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None  # the vectorised exp/tanh come from glibc's libmvec
    try:
        from torch.utils.cpp_extension import load

        return load(
            name=build_name(_cpu_flags()),
            sources=[str(SOURCE)],
            # -ffast-math lets GCC call libmvec's vector exp/tanh from the `omp simd` loops
            extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"],
            extra_ldflags=["-lmvec", "-fopenmp"],
            verbose=False,
        )
    except Exception as error:  # no compiler, no ninja, a failed build: the torch-op scan works
        warnings.warn(
            f"rnnkit: the compiled LSTM kernels are unavailable ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[-1] if str(error).strip() else ''}); "
            "unfused LSTMs use the slower torch-op scan",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
