"""classify on real data: the headline runs' accuracy over seeds and their times, and the
engine's time per epoch against a bare PyTorch loop of the same model.

1. Headline runs (``rnnkit classify train --preset NAME --train.seed K --out RUNS/NAME-seedK``,
   seeds 0, 1, 2): ``tutorial-mnist`` (target 97.74%), ``mnist-rows`` (99.0%), ``mnist-cnn``
   (99.0%) and ``fsdd`` (97%). The seed changes the initialisation, the shuffling and dropout;
   the validation split (10% of the training images, ``data.seed`` 0) and the test set stay
   the same. A run directory that already holds metrics.json is read, not retrained;
   ``--train`` trains the missing ones through the real command line (their CPU time and the
   load average during them are measured too), ``--lock FILE`` holds a lock file around each
   training run on a shared machine. Prints test and validation accuracy as mean ± std over the
   seeds, with every seed's value.
2. Time per epoch on row-MNIST (``--samples`` training images, the tutorial preset's model:
   2-layer LSTM 128 + linear head, batch 100, Adam 1e-3): the ``classify`` task through the
   engine vs a hand-written loop over ``torch.nn.LSTM`` on the same normalised tensors, both
   validating on the same split each epoch. Both run in this process, alternating, on the same
   thread count; epochs are timed start to start and the first of every run is dropped
   (warm-up). Medians.

Prints Markdown tables and writes JSON to benchmarks/results/classify.json.

    python benchmarks/classify.py --skip-timing                  # read runs/classify/*
    python benchmarks/classify.py --train --lock /tmp/x.lock     # also train the missing runs
    python benchmarks/classify.py --samples 54000                # full-size epochs (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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
from timing import EpochClock, timed_command  # benchmarks/timing.py (run from this folder)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "classify.json"
SEEDS = (0, 1, 2)
HEADLINE = {"tutorial-mnist": 0.9774, "mnist-rows": 0.99, "mnist-cnn": 0.99, "fsdd": 0.97}
TEST_SET = {"fsdd": "FSDD test (recordings 0-4, 300)"}  # the others: MNIST's 10,000 test images
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"


# ------------------------------------------------------------------------------ headline runs
def headline(preset: str, seed: int, args: argparse.Namespace) -> dict | None:
    """One seed of a headline run: read, or trained first with ``--train``."""
    run = args.runs / f"{preset}-seed{seed}"
    if not (run / "metrics.json").is_file():
        if not args.train:
            print(f"{run}: missing (pass --train)")
            return None
        command = [sys.executable, "-m", "rnnkit.cli.main", "classify", "train", "--preset"]
        command += [preset, "--train.seed", str(seed), "--train.progress", "false"]
        command += ["--out", str(run)]
        if args.data_root:  # the folder holding each preset's data set (mnist/, fsdd/)
            dataset = get_task("classify").presets[preset]["data.dataset"]
            command += ["--data-dir", str(Path(args.data_root) / dataset)]
        bench = timed_command(command, run, args.lock)
        (run / "bench.json").write_text(json.dumps(bench, indent=2) + "\n")
    metrics = json.loads((run / "metrics.json").read_text())
    bench_file = run / "bench.json"
    return {
        "seed": seed,
        "run": str(run),
        "test_accuracy": metrics["test"]["accuracy"],
        "val_accuracy": metrics["validation"]["accuracy"],
        "wall_time_s": metrics["wall_time_s"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        **(json.loads(bench_file.read_text()) if bench_file.is_file() else {}),
    }


def mean_std(values: list[float], digits: int = 4) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}" if values else "-"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def headline_table(args: argparse.Namespace) -> list[dict]:
    rows = []
    for preset, target in HEADLINE.items():
        seeds = [r for s in args.seeds if (r := headline(preset, s, args)) is not None]
        rows.append({"preset": preset, "target": target, "seeds": seeds})
    print(
        "| preset | test set | test accuracy, mean ± std (per seed) | validation accuracy | "
        "target | mean vs target | best epoch / epochs | wall (s) | CPU (s) | load during |"
    )
    print("|" + "---|" * 10)
    for row in rows:
        seeds = row["seeds"]
        if not seeds:
            continue
        test = [r["test_accuracy"] for r in seeds]
        per_seed = ", ".join(f"{a:.4f}" for a in test)
        cpu = [r["cpu_s"] for r in seeds if "cpu_s" in r]
        loads = [x for r in seeds for x in r.get("load_during", [])]
        gap = statistics.mean(test) - row["target"]
        cells = [
            row["preset"],
            TEST_SET.get(row["preset"], "MNIST test (10,000)"),
            f"{mean_std(test)} ({per_seed}; {len(test)} seeds)",
            mean_std([r["val_accuracy"] for r in seeds]),
            f"{row['target']:.4f}",
            f"{'reached' if gap >= 0 else 'below'} ({gap * 100:+.2f} points)",
            " ".join(f"{r['best_epoch'] + 1}/{r['epochs']}" for r in seeds),
            mean_std([r["wall_time_s"] for r in seeds], 0),
            mean_std(cpu, 0) if cpu else "-",
            f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-",
        ]
        print("| " + " | ".join(cells) + " |")
    return rows


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
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "classify", help="run dirs")
    parser.add_argument("--train", action="store_true", help="train missing headline runs")
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS), help="seeds")
    parser.add_argument(
        "--data-root",
        default=str(SHARED_MNIST.parent) if SHARED_MNIST.is_dir() else "",
        help="folder holding mnist/ and fsdd/ for the headline runs "
        "[default: ../shared/datasets if present, else each loader's own default]",
    )
    parser.add_argument("--lock", help="hold this lock file (flock) around each training run")
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

    rows = headline_table(args)

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
        presets = task.presets["tutorial-mnist"]
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
