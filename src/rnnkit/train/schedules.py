"""Learning-rate schedules as pure functions of the optimiser step.

The rate for step ``s`` (0-based, counted over the whole run) is ``lr * warmup(s) * decay(s)``;
only reduce-on-plateau keeps state (its scale, best value and bad-epoch count), which is saved
in every checkpoint. Computing the rate from the step count rather than stepping a scheduler
object makes a resumed run set exactly the rates of an uninterrupted one.

Schedules (``optim.schedule``):

* ``none``: constant.
* ``step``: multiply by ``gamma`` every ``step_size`` epochs.
* ``exponential``: multiply by ``gamma`` every epoch.
* ``cosine``: half a cosine from ``lr`` down to ``min_lr`` over the steps after warm-up.
* ``plateau``: multiply by ``gamma`` (not below ``min_lr``) after ``patience`` epochs in which
  the monitored validation metric did not improve.

``warmup_epochs`` adds a linear warm-up from 0 to any of them.
"""

from __future__ import annotations

import math
from typing import Any

from .settings import OptimConfig


class LRSchedule:
    """The learning rate of every optimiser step of a run.

    Args:
        config: the optimiser settings (``lr``, ``schedule``, ``warmup_epochs``, ...).
        steps_per_epoch: optimiser steps in one epoch.
        epochs: the run's number of epochs (cosine spans them all).
        mode: ``"min"`` or ``"max"``: which way the plateau metric improves.
    """

    def __init__(self, config: OptimConfig, steps_per_epoch: int, epochs: int, mode: str = "min"):
        self.config = config
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = self.steps_per_epoch * epochs
        self.warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)
        self.mode = mode
        # reduce-on-plateau state
        self.scale = 1.0
        self.best: float | None = None
        self.bad_epochs = 0

    def lr(self, step: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based)."""
        c = self.config
        rate = c.lr
        if self.warmup_steps and step < self.warmup_steps:
            rate *= (step + 1) / self.warmup_steps
        epoch = step // self.steps_per_epoch
        if c.schedule == "step":
            rate *= c.gamma ** (epoch // c.step_size)
        elif c.schedule == "exponential":
            rate *= c.gamma**epoch
        elif c.schedule == "cosine" and step >= self.warmup_steps:
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, (step - self.warmup_steps) / span)
            rate = c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        elif c.schedule == "plateau":
            rate = max(c.min_lr, rate * self.scale) if self.scale < 1.0 else rate
        return rate

    def observe(self, value: float) -> None:
        """Reduce-on-plateau: record the epoch's monitored metric (other schedules ignore it)."""
        if self.config.schedule != "plateau" or not math.isfinite(value):
            return
        better = self.best is None or (
            value < self.best - 1e-4 * abs(self.best)
            if self.mode == "min"
            else value > self.best + 1e-4 * abs(self.best)
        )
        if better:
            self.best, self.bad_epochs = value, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.config.patience:
            self.scale *= self.config.gamma
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
