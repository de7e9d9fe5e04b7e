"""Evaluation and prediction passes: the engine's no-gradient loops.

Validation during training, the final train/validation/test metrics and ``rnnkit TASK
evaluate``/``predict`` all run here, so every number a run reports is computed one way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .loading import eval_batches, eval_length
from .task import Context, Task


def to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """Move every tensor of a batch (no copy when it is already there)."""
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()
    }


def batch_size_of(batch: dict[str, Tensor]) -> int:
    """Rows in a batch: the length of its first tensor."""
    return len(next(v for v in batch.values() if isinstance(v, Tensor)))


@torch.no_grad()
def collect(
    task: Task,
    model: nn.Module,
    source: Any,
    batch_size: int,
    *,
    progress: bool = False,
    desc: str = "evaluate",
) -> tuple[float, dict[str, Tensor]]:
    """Run ``task.step`` over every batch of ``source`` in eval mode.

    Returns ``(loss, outputs)``: the exact mean loss over items, and the task's step outputs
    concatenated along the batch axis.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    weight = 0.0
    collected: dict[str, list[Tensor]] = {}
    state = None
    n = eval_length(source, batch_size)
    try:
        for batch, reset in tqdm(
            eval_batches(source, batch_size),
            total=n,
            desc=desc,
            disable=not progress or n < 2,
            leave=False,
        ):
            batch = to_device(batch, device)
            step = task.step(model, batch, None if reset else state)
            state = step.state
            w = float(step.weight) if step.weight is not None else batch_size_of(batch)
            total += step.loss.detach().double() * w
            weight += w
            for k, v in step.outputs.items():
                collected.setdefault(k, []).append(v.detach())
    finally:
        model.train(was_training)
    return float(total) / max(weight, 1e-12), {k: torch.cat(v) for k, v in collected.items()}


def evaluate(
    task: Task,
    model: nn.Module,
    source: Any,
    batch_size: int,
    ctx: Context,
    *,
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """:func:`collect`, then the task's metrics: ``({"loss": ..., **metrics}, outputs)``."""
    loss, outputs = collect(task, model, source, batch_size, progress=progress, desc=ctx.split)
    return {"loss": loss, **task.metrics(outputs, ctx)}, outputs


@torch.no_grad()
def predict(
    task: Task, model: nn.Module, source: Any, batch_size: int, *, progress: bool = False
) -> dict[str, Tensor]:
    """``task.predict`` over every batch of ``source``, concatenated along the batch axis."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    collected: dict[str, list[Tensor]] = {}
    n = eval_length(source, batch_size)
    try:
        for batch, _ in tqdm(
            eval_batches(source, batch_size), total=n, desc="predict", disable=not progress or n < 2
        ):
            for k, v in task.predict(model, to_device(batch, device)).items():
                collected.setdefault(k, []).append(v.detach().cpu())
    finally:
        model.train(was_training)
    return {k: torch.cat(v) for k, v in collected.items()}
