"""Time per epoch: the rnnkit engine vs a bare hand-written PyTorch loop, same model and data.

Model: 2-layer LSTM (rnnkit.nn, hidden 128) + linear head; MNIST-shaped inputs (28 steps of 28
features, random values: the question is the loop's overhead, not the accuracy), batch 100,
Adam. The loops run in this process, alternating in an order that rotates every round, on the
same thread count and the same malloc settings (``rnnkit.allocator``, as ``fit`` sets them); an
epoch is timed from its start to the next epoch's start, so the engine's end-of-epoch work (logs,
checkpoints) counts. The first epoch of every run is warm-up and is dropped. Reports the median
s/epoch of every loop and, because the machine's speed drifts between rounds, also the median over
rounds of each round's ratio to the bare loop (paired). Because that drift is as large as the
engine's cost, it also measures the cost directly: the same two loops with a negligible model,
where an epoch is almost only the loop. Writes benchmarks/results/engine.json.

    python benchmarks/engine.py                  # MNIST-sized epochs (60,000 samples), 3 rounds
    python benchmarks/engine.py --samples 6000   # a tenth of an epoch: quicker, per-epoch costs x10
    python benchmarks/engine.py --glibc-malloc   # all loops with glibc's default malloc
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn as rnn
from rnnkit.allocator import keep_freed_memory
from rnnkit.config import resolve
from rnnkit.data import TensorBatches
from rnnkit.train import OptimConfig, Step, Task, TaskData, TrainConfig, fit
from timing import EpochClock  # benchmarks/timing.py (scripts run from this folder)

RESULTS = Path(__file__).parent / "results" / "engine.json"


class MnistLSTM(nn.Module):
    """(N, 28, 28) -> (N, 10): 2-layer LSTM, last hidden state, linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = rnn.LSTM(28, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.rnn(x)
        return self.head(h_n[-1])


class LastRowLinear(nn.Module):
    """(N, 28, 28) -> (N, 10): a linear map of the last row, so that a step costs almost nothing
    and what remains of an epoch is the loop's own cost."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x[:, -1])


MODELS = {"lstm": MnistLSTM, "negligible": LastRowLinear}


@dataclass(frozen=True)
class BenchConfig:
    """The benchmark's settings (the engine's sections only)."""

    optim: OptimConfig = OptimConfig(lr=1e-3)
    train: TrainConfig = TrainConfig(batch_size=100, progress=False, eval_train=False)


class BenchTask(Task[BenchConfig]):
    """MNIST-shaped classification on fixed random tensors."""

    name = "bench"
    config_class = BenchConfig

    def __init__(self, x: torch.Tensor, y: torch.Tensor, model: str = "lstm") -> None:
        self.x, self.y, self.model = x, y, model

    def load_data(self, config: BenchConfig) -> TaskData:
        return TaskData(TensorBatches({"x": self.x, "y": self.y}), None, None)

    def build_model(self, config: BenchConfig, state: dict) -> nn.Module:
        torch.manual_seed(0)
        return MODELS[self.model]()

    def step(self, model: nn.Module, batch: dict, state=None) -> Step:
        return Step(F.cross_entropy(model(batch["x"]), batch["y"]))


def bare_epochs(
    x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, model: str = "lstm"
) -> list[float]:
    """What one writes by hand: shuffle, slice, forward, backward, step."""
    torch.manual_seed(0)
    model = MODELS[model]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    marks = []
    for _ in range(epochs):
        marks.append(time.perf_counter())
        order = torch.randperm(len(x))
        for index in order.split(batch_size):
            loss = F.cross_entropy(model(x[index]), y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks, marks[1:])]


def engine_epochs(
    x: torch.Tensor, y: torch.Tensor, epochs: int, threads: int, progress: bool, model: str = "lstm"
) -> list[float]:
    task = BenchTask(x, y, model)
    flags = {
        "train.epochs": str(epochs),
        "train.threads": str(threads),
        "train.progress": str(progress),
    }
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as out:
        fit(task, resolve(BenchConfig, flags=flags), Path(out) / "run", callbacks=[clock])
    return clock.epochs()


def loop_overhead(x: torch.Tensor, y: torch.Tensor, threads: int, rounds: int = 3) -> dict:
    """The engine's own cost, free of the machine's drift in compute speed: the same loops with a
    negligible model, so that an epoch is almost only the loop (medians over rounds)."""
    extra, bare = [], []
    for _ in range(rounds):
        b = statistics.median(bare_epochs(x, y, 3, 100, "negligible")[1:])
        e = statistics.median(engine_epochs(x, y, 3, threads, False, "negligible")[1:])
        extra.append(e - b)
        bare.append(b)
    steps = -(-len(x) // 100)
    return {
        "extra_s_per_epoch": statistics.median(extra),
        "extra_ms_per_step": statistics.median(extra) / steps * 1e3,
        "bare_s_per_epoch": statistics.median(bare),
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000, help="samples per epoch")
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs per run (the first is dropped)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--glibc-malloc",
        action="store_true",
        help="keep glibc's default malloc thresholds (the engine otherwise raises them)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.glibc_malloc:
        os.environ["RNNKIT_KEEP_FREED_MEMORY"] = "0"
    kept = keep_freed_memory()  # what fit() does, here for every loop alike
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.samples, 28, 28, generator=g)
    y = torch.randint(0, 10, (args.samples,), generator=g)

    loops = {
        "bare loop": lambda: bare_epochs(x, y, args.epochs, 100),
        "engine": lambda: engine_epochs(x, y, args.epochs, args.threads, progress=False),
        "engine + progress bar": lambda: engine_epochs(
            x, y, args.epochs, args.threads, progress=True
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in loops}
    round_ratios: dict[str, list[float]] = {name: [] for name in loops}  # paired, per round
    names = list(loops)
    for r in range(args.rounds):
        # rotate the order every round: whichever runs first after another one is not favoured
        this_round = {}
        for name in names[r % len(names) :] + names[: r % len(names)]:
            this_round[name] = statistics.median(loops[name]()[1:])
            times[name] += [this_round[name]]
        for name in names:
            round_ratios[name].append(this_round[name] / this_round["bare loop"])
        print(
            f"round {r + 1}/{args.rounds}: "
            + ", ".join(f"{k} {statistics.median(v):.3f}s" for k, v in times.items())
        )

    base = statistics.median(times["bare loop"])
    rows = [
        {
            "loop": k,
            "median_s_per_epoch": statistics.median(v),
            "ratio": statistics.median(v) / base,
            "paired_ratio": statistics.median(round_ratios[k]),
            "rounds": len(v),
        }
        for k, v in times.items()
    ]
    malloc = "freed memory kept" if kept else "glibc malloc defaults"
    print(
        f"\n{args.samples} samples/epoch, batch 100, 2-layer LSTM 128, {args.threads} threads, "
        f"{malloc}\n"
    )
    print("| loop | s / epoch (median) | vs bare loop | vs bare loop, paired by round | rounds |")
    print("|---|---|---|---|---|")
    for row in rows:
        cells = [row["loop"], f"{row['median_s_per_epoch']:.3f}", f"{row['ratio']:.3f}x"]
        cells += [f"{row['paired_ratio']:.3f}x", str(row["rounds"])]
        print("| " + " | ".join(cells) + " |")
    RESULTS.parent.mkdir(exist_ok=True)
    meta = {
        "samples": args.samples,
        "threads": args.threads,
        "keep_freed_memory": kept,
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    over = loop_overhead(x, y, args.threads)
    base_lstm = statistics.median(times["bare loop"])
    over["ratio_on_lstm_epoch"] = 1.0 + over["extra_s_per_epoch"] / base_lstm
    print(
        f"\nthe engine's own cost, measured with a negligible model: "
        f"{over['extra_s_per_epoch'] * 1e3:.0f} ms per epoch of {over['steps']} steps "
        f"({over['extra_ms_per_step']:.2f} ms per step, checkpoints included); added to the bare "
        f"LSTM epoch ({base_lstm:.2f} s) that is {over['ratio_on_lstm_epoch']:.3f}x"
    )
    results = {
        "meta": meta,
        "rows": rows,
        "raw": times,
        "round_ratios": round_ratios,
        "overhead": over,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
