"""The long-memory table: every recurrent cell on the adding and copying problems over T.

Protocol (Arjovsky, Shah & Bengio 2016, "Unitary evolution recurrent neural networks", ICML,
sections 4.1-4.2, as their code runs it): RMSprop, learning rate 1e-3, no momentum, batch 20,
gradient elements clipped to [-1, 1], 128 hidden units, Glorot-uniform weights (LSTM forget
bias 1); adding: MSE, baseline 0.167; copying: cross-entropy over all T + 20 steps, baseline
10 log 8 / (T + 20). A run *solves* a problem when its loss falls below 1% of the baseline;
"steps to solve" is the first optimiser step at which the mean training loss of the last 100
steps (2,000 sequences) is below that (``steps.csv``).

What this machine allows, and how it differs from the paper:

* Budgets (``BUDGETS``; ``--max-steps``/``--run-minutes`` override them): every run stops
  after its optimiser steps, its wall time, or once its validation loss is below the threshold
  (checked every 500 steps), and the whole table starts no run after ``--total-minutes``. Each
  T gives every cell the same budget. Runs are ordered so the cheap and decisive ones (adding
  T=100, 200) come first; what was cut is reported, never left out.
* Every cell runs on the path ``fused="auto"`` picks (torch's kernel for the LSTM, rnnkit's
  compiled loops for the GRU and the tanh RNN, the compiled scan for minGRU and minLSTM), one
  thread per run, ``--jobs`` runs side by side (default: 2, one per core).
* 10,000 training sequences reused every 500 steps (the paper: 100,000, so 20,000 iterations
  saw each 4 times), 500 validation (each epoch), 2,000 test sequences (the paper: 10,000).
  The test loss is that of the best checkpoint by validation loss.
* torch's RMSprop averages squared gradients with decay 0.99 (the paper: 0.9; the engine has
  no setting for it).
* Denormal floats are flushed to zero (``torch.set_flush_denormal``): vanishing gradients run
  into the subnormal range, where float arithmetic is many times slower on x86.

    python benchmarks/memory.py                                           # the default grid
    python benchmarks/memory.py --grid adding:100 --cells lstm,gru --max-steps 2000
    python benchmarks/memory.py --grid adding:200 --cells lstm --resume --runs runs/memory \
        --max-steps 30000 --run-minutes 15 --out benchmarks/results/memory-more.json

Prints a table and writes JSON (with wall and CPU time and the load average per run) to
benchmarks/results/memory.json; run directories go to ``--runs`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import RunDir, fit

RESULTS = Path(__file__).parent / "results" / "memory.json"
# in run order, cheap and decisive first: (max optimiser steps, wall-time cap in minutes)
BUDGETS = {
    "adding:100": (20000, 8.0),
    "adding:200": (20000, 11.0),
    "copying:100": (6000, 3.0),
    "adding:400": (6000, 3.0),
    "copying:200": (6000, 3.0),
    "adding:750": (4000, 3.0),
    "copying:500": (3000, 3.0),
}
CELLS = ["lstm", "gru", "rnn", "mingru", "minlstm"]
STEPS_PER_EPOCH = 500
BATCH = 20


class Budget(Callback):
    """Stop a run once its wall time exceeds ``seconds`` (after any step), or at an epoch's end
    once both its validation loss and the epoch's mean training loss are below ``threshold``
    (then some 100-step window of the epoch is too: steps.csv shows the step that solved it)."""

    def __init__(self, threshold: float, seconds: float) -> None:
        self.threshold, self.seconds = threshold, seconds
        self.started = time.perf_counter()
        self.reason = "max steps"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if time.perf_counter() - self.started > self.seconds:
            self.reason = "time budget"
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        found = trainer.callback_metrics
        val, train = found.get("val_loss"), found.get("train_loss")
        if val is not None and train is not None and max(float(val), float(train)) < self.threshold:
            self.reason = "solved"
            trainer.should_stop = True


def run_one(
    problem: str, length: int, cell: str, budget: tuple[int, float], args, out: Path
) -> dict:
    task = get_task("memory")
    max_steps, minutes = budget
    epochs = max(1, max_steps // STEPS_PER_EPOCH)
    flags = {
        "data.problem": problem,
        "data.length": length,
        "data.train_size": STEPS_PER_EPOCH * BATCH,
        "data.val_size": 500,
        "data.test_size": 2000,
        "data.seed": args.seed,
        "model.cell": cell,
        "model.hidden_size": args.hidden,
        "train.epochs": epochs,
        "train.seed": args.seed,
        "train.progress": False,
        "train.eval_train": False,
    }
    config = resolve(task.config_class, flags=flags)
    baseline = task.load_data(resolve(task.config_class, flags={
        **flags, "data.train_size": 1, "data.val_size": 1, "data.test_size": 1,
    })).state["baseline"]  # fmt: skip
    budget = Budget(0.01 * baseline, 60 * minutes)
    load_before = os.getloadavg()
    cpu_before = time.process_time()
    wall = time.perf_counter()
    if args.resume:  # continue a run that stopped unsolved: its steps so far count
        result = fit(task, config, resume=out, callbacks=[budget])
    else:
        result = fit(task, config, out, callbacks=[budget])
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu_before
    summary = json.loads((out / "memory.json").read_text())
    rows = RunDir(out).read_steps()
    return {
        "problem": problem,
        "T": length,
        "cell": cell,
        "baseline": baseline,
        "test_loss": result.metrics["test"]["loss"],
        "relative_loss": result.metrics["test"]["relative_loss"],
        "accuracy": result.metrics["test"].get("accuracy"),
        "final_train_loss": sum(r["loss"] for r in rows[-100:]) / max(1, len(rows[-100:])),
        "steps": len(rows),
        "resumed": bool(args.resume),
        "max_steps": max_steps,
        "minutes_cap": minutes,
        "steps_to_solve": summary["steps_to_solve"],
        "solved": summary["steps_to_solve"] is not None,
        "stopped": budget.reason,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "ms_per_step": round(1000 * wall / max(1, len(rows)), 1),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "run_dir": str(out),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| problem | T | cell | test loss | / baseline | steps to solve | steps run | stopped "
        "| wall s | CPU s | ms/step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['problem']} | {r['T']} | {r['cell']} | — | — | — | — "
                         f"| {r['skipped']} | — | — | — |")  # fmt: skip
            continue
        solve = r["steps_to_solve"] if r["steps_to_solve"] is not None else "not solved"
        lines.append(
            f"| {r['problem']} | {r['T']} | {r['cell']} | {r['test_loss']:.4g} "
            f"| {r['relative_loss']:.3f} | {solve} | {r['steps']} | {r['stopped']} "
            f"| {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['ms_per_step']:.0f} |"
        )
    return "\n".join(lines)


def run_or_skip(item: str, cell: str, args, root: Path, deadline: float) -> dict:
    """One run of the grid in a worker process, unless the table's time is spent."""
    problem, length = item.split(":")
    if time.time() > deadline:
        return {"problem": problem, "T": int(length), "cell": cell,
                "skipped": "not run: total time budget"}  # fmt: skip
    torch.set_flush_denormal(True)
    steps, minutes = BUDGETS.get(item, (6000, 3.0))
    budget = (args.max_steps or steps, args.run_minutes or minutes)
    name = f"{problem}-{length}-{cell}"
    print(f"== {name} (at most {budget[0]} steps, {budget[1]:g} min)", flush=True)
    row = run_one(problem, int(length), cell, budget, args, root / name)
    print(table([row]).splitlines()[-1], flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default=",".join(BUDGETS), help="problem:T,... in run order")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=None, help="per run [default: table]")
    parser.add_argument("--run-minutes", type=float, default=None,
                        help="wall-time cap per run [default: table]")  # fmt: skip
    parser.add_argument("--total-minutes", type=float, default=55.0,
                        help="start no run after this much wall time")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="runs side by side, one process (one thread) each")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="continue the grid's runs in --runs up to the new budgets "
                             "(wall and CPU time then count this leg only)")  # fmt: skip
    parser.add_argument("--runs", type=Path, default=None, help="[default: a temporary folder]")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    root = args.runs or Path(tempfile.mkdtemp(prefix="rnnkit-memory-"))
    deadline = time.time() + 60 * args.total_minutes
    grid = [(item, cell) for item in args.grid.split(",") for cell in args.cells.split(",")]
    # each run uses one thread (the memory task's train.threads): one process per core
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        futures = [pool.submit(run_or_skip, *run, args, root, deadline) for run in grid]
        rows = [future.result() for future in futures]
    total = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "settings": vars(args) | {"runs": str(root), "out": str(args.out)},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads per run": 1,
            "runs at once": args.jobs,
        },  # fmt: skip
        "total_wall_s": round(total, 1),
        "total_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "loadavg_end": os.getloadavg(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(rows))
    print(f"total: {total / 60:.1f} min wall, {report['total_cpu_s'] / 60:.1f} min CPU; "
          f"load average at the end {report['loadavg_end']}; wrote {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
