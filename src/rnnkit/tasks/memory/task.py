"""``memory``: can a recurrent network carry information across T steps?

Two synthetic problems (:mod:`rnnkit.data.datasets.memory`), generated from ``data.seed``:

* ``adding``: T pairs (number, marker); predict the sum of the two marked numbers (MSE).
  A network that remembers nothing predicts 1 and scores the baseline 1/6 ≈ 0.167.
* ``copying``: 10 symbols, T blanks, a delimiter; repeat the 10 symbols at the end
  (cross-entropy over all T + 20 steps). Baseline 10 log 8 / (T + 20).

Metrics: ``relative_loss`` (loss / baseline), ``solved`` (1.0 when relative_loss < 1%); for
copying also ``accuracy``, the share of the 10 recalled symbols that are right. After training
the report writes ``memory.json`` into the run directory: the baseline and the steps to solve
(:func:`steps_to_solve` over ``steps.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data import TensorBatches
from rnnkit.data.datasets.memory import (
    COPY_SYMBOLS,
    adding_baseline,
    adding_problem,
    copying_baseline,
    copying_problem,
)
from rnnkit.train import Context, RunDir, Step, Task, TaskData
from rnnkit.train.rundir import write_json

from .config import MemoryConfig
from .model import MemoryNetwork

SOLVED = 0.01  # a problem is solved when the loss falls below 1% of the baseline
WINDOW = 100  # steps.csv: steps averaged when looking for the step that solves a problem


class MemoryTask(Task[MemoryConfig]):
    """The adding and copying-memory problems, for every recurrent cell of :mod:`rnnkit.nn`."""

    name = "memory"
    config_class = MemoryConfig
    actions = ("train", "evaluate", "config")
    maximize = frozenset({"accuracy", "solved"})
    headline = ("loss", "relative_loss", "accuracy")
    aliases = {"problem": "data.problem", "length": "data.length", "cell": "model.cell"}

    def load_data(self, config: MemoryConfig) -> TaskData:
        d = config.data
        make = adding_problem if d.problem == "adding" else copying_problem
        sizes = (d.train_size, d.val_size, d.test_size)
        keys = ("x",) if d.problem == "adding" else ("x", "y")  # tensors with a time axis
        splits = [_batches(*make(n, d.length, d.seed + i), keys) for i, n in enumerate(sizes)]
        b = baseline(d.problem, d.length)
        state = {"problem": d.problem, "length": d.length, "baseline": b}
        return TaskData(*splits, state=state)

    def build_model(self, config: MemoryConfig, state: Mapping[str, Any]) -> nn.Module:
        return MemoryNetwork(state["problem"], config.model)

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        x, y = batch["x"], batch["y"]
        if model.problem == "adding":
            pred = model(x)  # (N,)
            errors = (pred - y.to(pred.dtype)).pow(2)  # (N,)
            return Step(errors.mean(), {"loss": errors.detach()})
        logits = model(x)  # (N, T + 20, 9)
        target = y.long()
        nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (N, T + 20)
        recalled = logits[:, -COPY_SYMBOLS:].argmax(-1) == target[:, -COPY_SYMBOLS:]
        outputs = {"loss": nll.mean(1).detach(), "recalled": recalled.float().mean(1)}
        return Step(nll.mean(), outputs)

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        relative = float(outputs["loss"].double().mean()) / ctx.state["baseline"]
        found = {"relative_loss": relative, "solved": float(relative < SOLVED)}
        if "recalled" in outputs:
            found["accuracy"] = float(outputs["recalled"].double().mean())
        return found

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.split != "test" or ctx.run_dir is None:
            return
        run = RunDir(ctx.run_dir)
        rows = run.read_steps()
        b = ctx.state["baseline"]
        summary = {
            "problem": ctx.state["problem"],
            "length": ctx.state["length"],
            "baseline": b,
            "threshold": SOLVED * b,
            "steps": len(rows),
            "steps_to_solve": steps_to_solve([r["loss"] for r in rows], SOLVED * b),
            "window": WINDOW,
            "test_loss": float(outputs["loss"].double().mean()),
            "test_relative_loss": metrics["relative_loss"],
        }
        write_json(run.path / "memory.json", summary)


def baseline(problem: str, length: int) -> float:
    """The memoryless loss of ``problem`` at ``length``."""
    return adding_baseline() if problem == "adding" else copying_baseline(length)


def steps_to_solve(losses: Sequence[float], threshold: float, window: int = WINDOW) -> int | None:
    """The first optimiser step (counted from 1) after which the mean training loss of the
    last ``window`` steps is below ``threshold``; None if it never is."""
    total = 0.0
    for i, loss in enumerate(losses):
        total += loss
        if i >= window:
            total -= losses[i - window]
        if i + 1 >= window and total / window < threshold:
            return i + 1
    return None


def _batches(x, y, time_keys: tuple[str, ...]) -> TensorBatches:
    return TensorBatches({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, time_keys)


TASK = MemoryTask()
