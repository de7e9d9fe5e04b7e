"""Compiled time loops (``csrc/*.cpp``), built on first use.

The scans of :mod:`rnnkit.nn.scan` hand their whole forward and backward time loops to C++: the
per-step matrix products go through ATen, and each step's element-wise work — gates, cell, layer
norms, and their backward — is one pass per batch row instead of a dozen small torch ops (see
``docs/speed.md`` for the measurements); the minimal RNNs' linear recurrence
(:mod:`rnnkit.nn.minimal`) is one vectorised pass over time. :func:`compiled` builds the sources
as one extension with ``torch.utils.cpp_extension`` the first time it is needed (30-90 s,
announced on stderr; cached afterwards under ``TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``, once per processor type and source) and returns the module, or
None — then the same loops run in torch ops — when there is no C++ compiler, the build fails,
or ``RNNKIT_KERNELS=0``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
import warnings
from pathlib import Path
from types import ModuleType

import torch

CSRC = Path(__file__).with_name("csrc")
SOURCES = [CSRC / f"{name}.cpp" for name in ("bindings", "lstm", "gru", "rnn", "linear_scan")]
HEADERS = [CSRC / "common.h"]


def source_text() -> str:
    """Every source and header, concatenated: what a build is named after."""
    return "".join(path.read_text(encoding="utf-8") for path in SOURCES + HEADERS)


def usable(x: torch.Tensor) -> bool:
    """Whether the kernels serve a scan over ``x``: CPU, float32/float64, and they are built."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and compiled() is not None
    )


def build_name(
    cpu_flags: str, source: str, torch_dir: str = str(Path(torch.__file__).parent)
) -> str:
    """The extension's name for this source on a processor with these feature flags, built
    against the torch installed at ``torch_dir``.

    The build uses ``-march=native``, and torch caches it by name under the extensions folder,
    which a home directory shared between machines (a cluster, a container image) carries to
    other processors. One name per set of instruction-set flags means a cached build is only
    ever loaded where it was compiled for, not run into an illegal instruction elsewhere; and
    one per source means a cached build under this name is always the current one. One per
    torch installation (each virtual environment): torch rebuilds under the same name when the
    build arguments (its include paths) change, and that rebuild would then take place without
    the "compiling once" notice.
    """
    key = f"{platform.machine()} {cpu_flags}\n{torch_dir}\n{source}"
    return f"rnnkit_kernels_{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _is_built(name: str) -> bool:
    """Whether torch's extensions folder already holds a build under this name."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return (Path(_get_build_directory(name, False)) / f"{name}.so").exists()
    except Exception:  # a private helper of torch's: if it changes, only the notice is lost
        return True


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
def compiled() -> ModuleType | None:
    """The compiled module (``lstm_forward``, ``linear_scan_forward``, ... one per loop and
    direction), or None where it cannot be had."""
    if os.environ.get("RNNKIT_KERNELS", "1") == "0":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None  # the vectorised exp/tanh come from glibc's libmvec
    try:
        from torch.utils.cpp_extension import load

        name = build_name(_cpu_flags(), source_text())
        if not _is_built(name):
            print(
                "rnnkit: compiling the recurrent kernels for this processor, once (30-90 s; "
                "RNNKIT_KERNELS=0 runs without them)",
                file=sys.stderr,
                flush=True,
            )
        return load(
            name=name,
            sources=[str(path) for path in SOURCES],
            # -ffast-math lets GCC call libmvec's vector exp/tanh from the `omp simd` loops
            extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"],
            extra_ldflags=["-lmvec", "-fopenmp"],
            verbose=False,
        )
    except Exception as error:  # no compiler, no ninja, a failed build: the torch-op scan works
        warnings.warn(
            f"rnnkit: the compiled recurrent kernels are unavailable ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[-1] if str(error).strip() else ''}); "
            "rnnkit's own time loops run in slower torch ops",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
