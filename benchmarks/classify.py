"""classify on real data: the headline runs' accuracy and wall time, and the engine's time per
epoch against a bare PyTorch loop of the same model.

1. Headline runs (``rnnkit classify train --preset NAME --out RUNS/NAME``): ``seed-mnist``
   (target 97.74%), ``mnist-rows`` (99.0%), ``mnist-cnn`` (99.0%) and ``fsdd`` (97%). A run
   directory that already holds metrics.json is read, not retrained; ``--train`` trains the
   missing ones through the real command line (their CPU time is then measured too).
2. Time per epoch on row-MNIST (``--samples`` training images, the seed preset's model: 2-layer
   LSTM 128 + linear head, batch 100, Adam 1e-3): the ``classify`` task through the engine vs a
   hand-written loop over ``torch.nn.LSTM`` on the same normalised tensors, both validating on
   the same split each epoch. Both run in this process, alternating, on the same thread count;
   epochs are timed start to start and the first of every run is dropped (warm-up). Medians.

Prints Markdown tables and writes JSON to benchmarks/results/classify.json.

    python benchmarks/classify.py                    # read runs/*, time 6,000-image epochs
    python benchmarks/classify.py --train            # also train the missing headline runs
    python benchmarks/classify.py --samples 54000    # full-size epochs (slow on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.allocator import keep_freed_memory
from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import fit
from timing import EpochClock  # benchmarks/timing.py (scripts run from this folder)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "classify.json"
HEADLINE = {"seed-mnist": 0.9774, "mnist-rows": 0.99, "mnist-cnn": 0.99, "fsdd": 0.97}
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"
RUN_NAMES = {"seed-mnist": "mnist-seed", "mnist-rows": "mnist-rows", "mnist-cnn": "mnist-cnn"}


# ------------------------------------------------------------------------------ headline runs
def headline(preset: str, runs: Path, train: bool) -> dict:
    run = runs / RUN_NAMES.get(preset, preset)
    row = {"preset": preset, "run": str(run), "target": HEADLINE[preset]}
    if not (run / "metrics.json").is_file():
        if not train:
            return {**row, "status": "missing (pass --train)"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [sys.executable, "-m", "rnnkit.cli.main", "classify", "train", "--preset"]
        subprocess.run(
            [*command, preset, "--train.progress", "false", "--out", str(run)], check=True
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        row["cpu_s"] = round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1)
        row["load_avg"] = os.getloadavg()
    metrics = json.loads((run / "metrics.json").read_text())
    accuracy = metrics["test"]["accuracy"]
    return {
        **row,
        "test_accuracy": accuracy,
        "wall_time_s": metrics["wall_time_s"],
        "epochs": metrics["epochs"],
        "status": "reached" if accuracy >= HEADLINE[preset] else "below target",
    }


# ------------------------------------------------------------------------------ epoch timing
class BareLSTM(nn.Module):
    """The seed preset's model in plain torch: (N, 28, 28) -> (N, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(28, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.rnn(x)
        return self.head(h_n[-1])


def bare_epochs(data, epochs: int) -> list[float]:
    """What one writes by hand: shuffle, slice, forward, backward, step; then validate."""
    x, y = data.train.tensors["x"], data.train.tensors["y"]
    vx, vy = data.val.tensors["x"], data.val.tensors["y"]
    torch.manual_seed(0)
    model = BareLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    marks = []
    for _ in range(epochs):
        marks.append(time.perf_counter())
        model.train()
        for index in torch.randperm(len(x)).split(100):
            loss = F.cross_entropy(model(x[index]), y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():  # validation accuracy, as the engine computes every epoch
            sum(
                (model(vx[i : i + 512]).argmax(1) == vy[i : i + 512]).sum()
                for i in range(0, len(vx), 512)
            )
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks, marks[1:])]


def engine_epochs(config, epochs: int) -> list[float]:
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as out:
        fit(get_task("classify"), config, Path(out) / "run", callbacks=[clock])
    return clock.epochs()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="run directories")
    parser.add_argument("--train", action="store_true", help="train missing headline runs")
    parser.add_argument("--samples", type=int, default=6000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (first dropped)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (presets: 1)")
    parser.add_argument("--skip-timing", action="store_true", help="only the headline table")
    parser.add_argument(
        "--mnist",
        default=str(SHARED_MNIST) if SHARED_MNIST.is_dir() else "",
        help="folder of the MNIST IDX files [default: ../shared/datasets/mnist if present]",
    )
    args = parser.parse_args()

    rows = [headline(p, args.runs, args.train) for p in HEADLINE]
    print("| preset | test accuracy | target | status | wall time (s) | epochs | CPU (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        acc = f"{r['test_accuracy']:.4f}" if "test_accuracy" in r else "-"
        wall = f"{r['wall_time_s']:.0f}" if "wall_time_s" in r else "-"
        cells = [r["preset"], acc, f"{r['target']:.4f}", r["status"], wall]
        extra = [str(r.get("epochs", "-")), str(r.get("cpu_s", "-"))]
        print("| " + " | ".join([*cells, *extra]) + " |")

    timing: dict = {}
    if not args.skip_timing:
        torch.set_num_threads(args.threads)
        keep_freed_memory()  # what fit() does: the bare loop runs under the same malloc setting
        task = get_task("classify")
        flags = {
            "data.limit": str(round(args.samples / 0.9)),  # 10% of it becomes validation
            "train.epochs": str(args.epochs),
            "train.threads": str(args.threads),
            "train.progress": "false",
            "train.eval_train": "false",
            "data.data_dir": args.mnist,
        }
        presets = task.presets["seed-mnist"]
        config = resolve(task.config_class, flags={**presets, **flags})
        data = task.load_data(config)
        times: dict[str, list[float]] = {"bare PyTorch loop": [], "rnnkit classify (engine)": []}
        for r in range(args.rounds):
            times["bare PyTorch loop"] += bare_epochs(data, args.epochs)[1:]
            times["rnnkit classify (engine)"] += engine_epochs(config, args.epochs)[1:]
            print(
                f"round {r + 1}/{args.rounds}: "
                + ", ".join(f"{k} {statistics.median(v):.3f}s" for k, v in times.items())
            )
        base = statistics.median(times["bare PyTorch loop"])
        timing = {
            "samples": len(data.train),
            "validation": len(data.val),
            "threads": args.threads,
            "load_avg": os.getloadavg(),
            "rows": [
                {
                    "loop": k,
                    "median_s_per_epoch": statistics.median(v),
                    "ratio": statistics.median(v) / base,
                    "epochs": len(v),
                }
                for k, v in times.items()
            ],
            "raw": times,
        }
        print(f"\nrow-MNIST, {len(data.train)} images/epoch, batch 100, 2-layer LSTM 128\n")
        print("| loop | s / epoch (median) | vs bare loop | epochs timed |")
        print("|---|---|---|---|")
        for t in timing["rows"]:
            cells = [t["loop"], f"{t['median_s_per_epoch']:.3f}", f"{t['ratio']:.3f}x"]
            print("| " + " | ".join([*cells, str(t["epochs"])]) + " |")

    RESULTS.parent.mkdir(exist_ok=True)
    meta = {"torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count()}
    RESULTS.write_text(
        json.dumps({"meta": meta, "headline": rows, "epoch_time": timing}, indent=2) + "\n"
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
