"""Speed of rnnkit's recurrent layers against torch.nn, as ratios measured in one run.

For each shape and cell family (LSTM, GRU, RNN) it times a training step (forward + backward of
a sum loss) and an inference step (forward under no_grad) of:

* ``torch.nn.LSTM/GRU`` — the baseline every ratio is relative to;
* ``rnnkit.nn`` with defaults (``fused="auto"``: the path :mod:`rnnkit.nn.dispatch` picks — on
  CPU torch's kernel for the LSTM, rnnkit's compiled loop for the GRU and RNN), rnnkit's scan
  (``fused=False``) and ``layer_norm=True`` (always rnnkit's scan);
* the NumPy reference (``rnnkit.reference``: forward + hand-written BPTT), timed in its own phase
  beside a fresh torch baseline, because NumPy and torch threads slow each other when interleaved.

Then the minimal RNNs: a training step of ``rnnkit.nn.MinGRU`` and ``MinLSTM`` (parallel scan)
against ``torch.nn.GRU`` of the same width over T = 64...4096 (batch 32, input 64, hidden 128).

Implementations are timed alternating, block by block, in an order rotated every round; times
are medians, and each ratio is the median over rounds of the ratio within a round (the machine's
speed drifts, see ../shared/PERF-NOTES.md). Prints a table and writes JSON.

    python benchmarks/recurrent.py                 # full run (a few minutes on 2 cores)
    python benchmarks/recurrent.py --quick         # fewer repeats, for a smoke test
    python benchmarks/recurrent.py --glibc-malloc  # with glibc's default malloc thresholds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import rnnkit.nn as rnn
import rnnkit.reference as ref
from rnnkit.allocator import keep_freed_memory

SHAPES = [  # (batch, seq, input, hidden, layers)
    (64, 28, 28, 128, 1),
    (64, 28, 28, 128, 2),
    (32, 100, 64, 256, 1),
    (32, 512, 64, 128, 1),
]
MINIMAL_LENGTHS = [64, 256, 512, 1024, 2048, 4096]


def timed_rounds(
    fns: dict[str, Callable[[], None]], repeats: int, inner: int
) -> dict[str, list[float]]:
    """Seconds per call of each function in every round, after a warm-up.

    A round times one block of ``inner`` calls of each function, in an order rotated from round
    to round, so that slow drift of the machine's speed lands on every function alike.
    """
    for fn in fns.values():
        fn()
    names = list(fns)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            for _ in range(inner):
                fns[name]()
            samples[name].append((time.perf_counter() - start) / inner)
    return samples


def paired_ratio(samples: list[float], base: list[float]) -> float:
    """Median over rounds of the time ratio within each round."""
    return statistics.median(a / b for a, b in zip(samples, base, strict=True))


def torch_step(module: torch.nn.Module, x: torch.Tensor, train: bool) -> Callable[[], None]:
    def train_step() -> None:
        module.zero_grad(set_to_none=True)
        output, _ = module(x)
        output.sum().backward()

    @torch.no_grad()
    def infer_step() -> None:
        module(x)

    return train_step if train else infer_step


def numpy_step(layer, x: np.ndarray, train: bool) -> Callable[[], None]:
    def train_step() -> None:
        output, _ = layer.forward(x)
        layer.backward(np.ones_like(output))

    def infer_step() -> None:
        layer.forward(x)

    return train_step if train else infer_step


def bench_shape(family: str, shape: tuple, repeats: int, inner: int) -> dict[str, dict]:
    """Per mode: median seconds of every implementation and its paired ratio to torch.nn."""
    batch, seq, inputs, hidden, layers = shape
    torch_cls = getattr(torch.nn, family)
    ours_cls = getattr(rnn, family)
    args = (inputs, hidden, layers)
    modules = {
        "torch.nn": torch_cls(*args, batch_first=True),
        "fused": ours_cls(*args, batch_first=True),
        "cells": ours_cls(*args, batch_first=True, fused=False),
        "layer_norm": ours_cls(*args, batch_first=True, layer_norm=True),
    }
    x = torch.randn(batch, seq, inputs)
    result: dict[str, dict] = {}
    for mode in ("train", "infer"):
        fns = {name: torch_step(m, x, mode == "train") for name, m in modules.items()}
        samples = timed_rounds(fns, repeats, inner)
        base = samples["torch.nn"]
        result[mode] = {
            "seconds": {name: statistics.median(s) for name, s in samples.items()},
            "ratio": {name: paired_ratio(s, base) for name, s in samples.items()},
        }

    # NumPy phase: its own torch baseline, run in blocks apart from the NumPy timings (NumPy
    # and torch threads slow each other when interleaved), so its ratio is of medians.
    numpy_layer = getattr(ref, family)(inputs, hidden, layers, batch_first=True, seed=0)
    x_np = x.double().numpy()
    for mode in ("train", "infer"):
        torch_fn = {"torch.nn": torch_step(modules["torch.nn"], x, mode == "train")}
        base = statistics.median(timed_rounds(torch_fn, repeats, inner)["torch.nn"])
        numpy_fn = {"numpy": numpy_step(numpy_layer, x_np, mode == "train")}
        np_time = statistics.median(timed_rounds(numpy_fn, max(3, repeats // 2), 1)["numpy"])
        result[mode]["seconds"]["numpy"] = np_time
        result[mode]["seconds"]["numpy_baseline"] = base
        result[mode]["ratio"]["numpy"] = np_time / base
    return result


def bench_minimal(seq: int, repeats: int) -> dict[str, dict]:
    """Training step of MinGRU and MinLSTM against torch.nn.GRU at (32, seq, 64, 128)."""
    x = torch.randn(32, seq, 64)
    modules = {
        "torch.nn.GRU": torch.nn.GRU(64, 128, batch_first=True),
        "MinGRU": rnn.MinGRU(64, 128, batch_first=True),
        "MinLSTM": rnn.MinLSTM(64, 128, batch_first=True),
    }
    inner = 3 if seq <= 512 else 1
    samples = timed_rounds({n: torch_step(m, x, True) for n, m in modules.items()}, repeats, inner)
    base = samples["torch.nn.GRU"]
    return {
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        "speedup": {name: 1 / paired_ratio(s, base) for name, s in samples.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per implementation")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recurrent.json"))
    parser.add_argument(
        "--glibc-malloc",
        action="store_true",
        help="keep glibc's default malloc thresholds (rnnkit.train.fit raises them)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.glibc_malloc:
        os.environ["RNNKIT_KEEP_FREED_MEMORY"] = "0"
    kept = keep_freed_memory()  # as fit() does; every implementation runs under the same setting
    repeats, inner = (3, 1) if args.quick else (args.repeats, 3)

    rows = []
    load_at_start = os.getloadavg()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in load_at_start)}")
    print(
        f"torch {torch.__version__}, {args.threads} threads, float32, "
        f"{'freed memory kept' if kept else 'glibc malloc defaults'}; times are medians, "
        "ratios are medians of per-round ratios to torch.nn in the same run\n"
    )
    header = f"{'family':6} {'B,T,I,H,layers':18} {'mode':5} {'torch.nn':>9}"
    names = ["fused", "cells", "layer_norm", "numpy"]
    print(header + "".join(f" {n:>16}" for n in names))
    for family in ("LSTM", "GRU", "RNN"):
        for shape in SHAPES:
            result = bench_shape(family, shape, repeats, inner)
            for mode, measured in result.items():
                times, ratios = measured["seconds"], measured["ratio"]
                base = times["torch.nn"]
                row = {
                    "family": family,
                    "shape": dict(
                        zip(["batch", "seq", "input", "hidden", "layers"], shape, strict=True)
                    ),
                    "mode": mode,
                    "seconds": times,
                    "ratio_to_torch": ratios,
                }
                rows.append(row)
                cells = "".join(f" {times[n] * 1e3:7.1f}ms {ratios[n]:5.2f}x" for n in names)
                print(
                    f"{family:6} {','.join(map(str, shape)):18} {mode:5} {base * 1e3:7.1f}ms{cells}"
                )
    print("\nminimal RNNs, training step, batch 32, input 64, hidden 128: speed-up over nn.GRU")
    print(f"{'T':>5} {'torch.nn.GRU':>12} {'MinGRU':>16} {'MinLSTM':>16}")
    minimal = []
    for seq in MINIMAL_LENGTHS:
        measured = bench_minimal(seq, max(3, repeats // 2) if seq > 512 else repeats)
        minimal.append({"seq": seq, **measured})
        t, up = measured["seconds"], measured["speedup"]
        print(
            f"{seq:5} {t['torch.nn.GRU'] * 1e3:10.1f}ms"
            + "".join(f" {t[n] * 1e3:7.1f}ms {up[n]:5.1f}x" for n in ("MinGRU", "MinLSTM"))
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": args.threads,
                "keep_freed_memory": kept,
                "machine": platform.machine(),
                "processor": platform.processor(),
                "load_average_at_start": load_at_start,
                "rows": rows,
                "minimal": minimal,
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
