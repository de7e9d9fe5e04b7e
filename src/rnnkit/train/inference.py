"""Using a finished run: rebuild its model from a checkpoint, evaluate it, predict with it.

Nothing here imports Lightning, so ``rnnkit TASK evaluate`` and ``predict`` start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit import console
from rnnkit.config import ConfigError, from_dict

from .checkpoint import Checkpoint, load_checkpoint
from .evaluation import evaluate, predict
from .task import Context, Task, TaskData


@dataclass
class LoadedRun:
    """A task's model rebuilt from a checkpoint, with the configuration and task state it used."""

    task: Task
    config: Any
    model: nn.Module
    state: dict[str, Any]
    checkpoint: Checkpoint

    def context(self, split: str = "test", data: TaskData | None = None) -> Context:
        """A hook context for an evaluation of this run (nothing is written to the run)."""
        return Context(self.config, self.state, split, None, data)


def load_run(
    task: Task, path: str | Path, prefer: str = "best", device: str | torch.device = "cpu"
) -> LoadedRun:
    """Rebuild ``task``'s model from a run directory or checkpoint directory (no code runs).

    Args:
        task: the task the run belongs to.
        path: a run directory (its best checkpoint, else the last) or a checkpoint directory.
        prefer: ``"best"`` or ``"last"`` when ``path`` is a run directory.
    """
    ckpt = load_checkpoint(path, prefer)
    owner = ckpt.info.get("task")
    if owner is not None and owner != task.name:
        raise ConfigError(
            f"{ckpt.path}: this checkpoint belongs to task {owner!r}, not {task.name!r}"
        )
    try:
        config = from_dict(task.config_class, ckpt.config, source=str(ckpt.path / "config.json"))
    except ConfigError as e:
        raise ConfigError(
            f"{ckpt.path / 'config.json'} does not fit this version of {task.name}: {e}"
        ) from None
    model = task.build_model(config, ckpt.task_state)
    ckpt.load_into(model)
    model.to(device).eval()
    return LoadedRun(task, config, model, ckpt.task_state, ckpt)


def evaluate_run(
    run: LoadedRun,
    source: Any,
    split: str = "test",
    data: TaskData | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Metrics (and the step outputs) of a loaded run on ``source``.

    ``split`` is what ``source`` is (``"test"`` ..., or ``"input"`` for a user's file) and
    ``data`` the prepared data it belongs to, as the task's metrics may need them.
    """
    batch_size = run.config.train.eval_batch_size
    ctx = run.context(split, data)
    return evaluate(run.task, run.model, source, batch_size, ctx, progress=console.bars(progress))


def predict_run(run: LoadedRun, source: Any, progress: bool = True) -> dict[str, Tensor]:
    """Predictions of a loaded run on ``source`` (concatenated ``task.predict`` outputs)."""
    batch_size = run.config.train.eval_batch_size
    return predict(run.task, run.model, source, batch_size, progress=console.bars(progress))
