"""Time per epoch: the rnnkit engine vs a bare hand-written PyTorch loop, same model and data.

Model: 2-layer LSTM (rnnkit.nn, hidden 128) + linear head; MNIST-shaped inputs (28 steps of 28
features, random values: the question is the loop's overhead, not the accuracy), batch 100,
Adam, in this process, on the same thread count and malloc settings (``rnnkit.allocator``, as
``fit`` sets them). The machine's speed drifts by 10% and more over tens of seconds, as much as
the engine's cost, so the two loops are paired epoch by epoch: a callback runs one bare-loop
epoch (its own model and optimiser, kept from epoch to epoch) just before each engine epoch, and
the ratio reported is the median over epochs of engine epoch / the bare epoch beside it. An
engine epoch runs from its start to the next epoch's start, so its end-of-epoch work (logs,
checkpoints) counts; the first epoch of every run is warm-up and is dropped. It also measures
the engine's own cost directly: the same pairs with a negligible model, where an epoch is almost
only the loop. Writes benchmarks/results/engine.json.

    python benchmarks/engine.py                  # MNIST-sized epochs (60,000 samples), ~7 min
    python benchmarks/engine.py --samples 6000   # a tenth of an epoch: quicker, per-epoch costs x10
    python benchmarks/engine.py --glibc-malloc   # both loops with glibc's default malloc
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


class BareLoop:
    """What one writes by hand: shuffle, slice, forward, backward, step (one epoch per call)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, model: str = "lstm") -> None:
        torch.manual_seed(0)
        self.x, self.y = x, y
        self.model = MODELS[model]()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, batch_size: int = 100) -> float:
        start = time.perf_counter()
        for index in torch.randperm(len(self.x)).split(batch_size):
            loss = F.cross_entropy(self.model(self.x[index]), self.y[index])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return time.perf_counter() - start


class BareBeside(EpochClock):
    """Runs one bare-loop epoch just before each engine epoch and times the two apart, so that
    each pair shares the machine's state of the moment (its speed drifts by 10% and more over
    tens of seconds here)."""

    def __init__(self, bare: BareLoop) -> None:
        super().__init__()
        self.bare, self.bare_times = bare, []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.bare_times.append(self.bare.epoch())
        super().on_train_epoch_start(trainer, pl_module)


def paired_epochs(
    x: torch.Tensor, y: torch.Tensor, epochs: int, threads: int, progress: bool, model: str = "lstm"
) -> list[tuple[float, float]]:
    """(engine s, bare s) for every epoch after the first of one ``fit`` run."""
    task = BenchTask(x, y, model)
    flags = {
        "train.epochs": str(epochs),
        "train.threads": str(threads),
        "train.progress": str(progress),
    }
    clock = BareBeside(BareLoop(x, y, model))
    with tempfile.TemporaryDirectory() as out:
        fit(task, resolve(BenchConfig, flags=flags), Path(out) / "run", callbacks=[clock])
    # an engine epoch runs from the end of its bare epoch to the start of the next bare epoch
    engine = [e - b for e, b in zip(clock.epochs(), clock.bare_times[1:] + [0.0])]
    return list(zip(engine, clock.bare_times))[1:]


def loop_overhead(x: torch.Tensor, y: torch.Tensor, threads: int, rounds: int = 3) -> dict:
    """The engine's own cost, free of the machine's drift in compute speed: the same loops with a
    negligible model, so that an epoch is almost only the loop (medians over rounds)."""
    pairs = [p for _ in range(rounds) for p in paired_epochs(x, y, 3, threads, False, "negligible")]
    extra = [e - b for e, b in pairs]
    bare = [b for _, b in pairs]
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
        "--epochs", type=int, default=3, help="epochs per run (the first is dropped)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="fit runs per engine variant")
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

    variants = {"engine": False, "engine + progress bar": True}
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, progress in variants.items():
            pairs[name] += paired_epochs(x, y, args.epochs, args.threads, progress)
        print(
            f"round {r + 1}/{args.rounds}: "
            + ", ".join(
                f"{k} {statistics.median(e / b for e, b in v):.3f}x bare" for k, v in pairs.items()
            )
        )

    bare_all = [b for v in pairs.values() for _, b in v]
    rows = [
        {
            "loop": "bare loop",
            "median_s_per_epoch": statistics.median(bare_all),
            "paired_ratio": 1.0,
            "epochs": len(bare_all),
        }
    ]
    for name, v in pairs.items():
        rows.append(
            {
                "loop": name,
                "median_s_per_epoch": statistics.median(e for e, _ in v),
                "paired_ratio": statistics.median(e / b for e, b in v),
                "ratio_range": [min(e / b for e, b in v), max(e / b for e, b in v)],
                "epochs": len(v),
            }
        )
    malloc = "freed memory kept" if kept else "glibc malloc defaults"
    print(
        f"\n{args.samples} samples/epoch, batch 100, 2-layer LSTM 128, {args.threads} threads, "
        f"{malloc}\n"
    )
    print("| loop | s / epoch (median) | vs the bare epoch beside it (median) | range | epochs |")
    print("|---|---|---|---|---|")
    for row in rows:
        low, high = row.get("ratio_range", [1.0, 1.0])
        cells = [row["loop"], f"{row['median_s_per_epoch']:.3f}", f"{row['paired_ratio']:.3f}x"]
        cells += [f"{low:.3f}-{high:.3f}", str(row["epochs"])]
        print("| " + " | ".join(cells) + " |")
    meta = {
        "samples": args.samples,
        "threads": args.threads,
        "keep_freed_memory": kept,
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    over = loop_overhead(x, y, args.threads)
    base_lstm = statistics.median(bare_all)
    over["ratio_on_lstm_epoch"] = 1.0 + over["extra_s_per_epoch"] / base_lstm
    print(
        f"\nthe engine's own cost, measured with a negligible model: "
        f"{over['extra_s_per_epoch'] * 1e3:.0f} ms per epoch of {over['steps']} steps "
        f"({over['extra_ms_per_step']:.2f} ms per step, checkpoints included); added to the bare "
        f"LSTM epoch ({base_lstm:.2f} s) that is {over['ratio_on_lstm_epoch']:.3f}x"
    )
    results = {"meta": meta, "rows": rows, "pairs": pairs, "overhead": over}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
