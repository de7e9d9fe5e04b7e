"""Training dynamics of a run: the gradient norm of every step, before and after clipping.

The engine writes one row per optimiser step to ``steps.csv``: ``loss`` and ``grad_norm``, the
global L2 norm of the gradient *before* clipping (``train.log_grad_norm``). With
``optim.clip_norm = c`` (and no ``clip_value``) the step used the gradient rescaled to norm
min(g, c), so the norm after clipping and whether a step was clipped follow from g alone.
``clip_value`` clips each element, which the norm does not tell: a step with g <= v was
certainly left alone, one with g > v may or may not have been touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Dynamics:
    """Per-step series of one run (``norm`` is None where steps.csv holds no gradient norm).

    Attributes:
        step, loss: the optimiser steps and their training losses.
        norm: the gradient norm before clipping; ``clipped_norm`` after (None when unknown).
        clip_norm, clip_value: the run's clipping settings (0: off).
    """

    step: np.ndarray
    loss: np.ndarray
    norm: np.ndarray | None
    clipped_norm: np.ndarray | None
    clip_norm: float
    clip_value: float

    def summary(self) -> dict[str, Any]:
        """Steps, loss at the start and end, quantiles of the finite norms, the steps whose
        norm was not finite, and the fraction of steps clipped (None when clip_value makes it
        unknowable)."""
        found: dict[str, Any] = {
            "steps": int(len(self.step)),
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
        }
        if len(self.loss):
            head = self.loss[: max(1, len(self.loss) // 20)]
            tail = self.loss[-max(1, len(self.loss) // 20) :]
            found.update(first_loss=float(head.mean()), last_loss=float(tail.mean()))
        if self.norm is not None and len(self.norm):
            finite = self.norm[np.isfinite(self.norm)]
            q = np.quantile(finite, [0.5, 0.9, 1.0]) if len(finite) else [float("nan")] * 3
            found.update(norm_median=float(q[0]), norm_p90=float(q[1]), norm_max=float(q[2]))
            found["nonfinite_steps"] = int(len(self.norm) - len(finite))
            found["fraction_clipped"] = self.fraction_clipped()
        return found

    def fraction_clipped(self) -> float | None:
        if self.norm is None or not len(self.norm):
            return None
        if self.clip_value:
            return None
        if not self.clip_norm:
            return 0.0
        return float((self.norm > self.clip_norm).mean())


def read_dynamics(rows: Sequence[Mapping[str, float]], optim: Any) -> Dynamics:
    """:class:`Dynamics` from ``steps.csv`` rows and the run's ``optim`` settings."""
    step = np.array([r["step"] for r in rows], dtype=np.int64)
    loss = np.array([r["loss"] for r in rows], dtype=np.float64)
    norm = clipped = None
    if rows and all("grad_norm" in r for r in rows):
        norm = np.array([r["grad_norm"] for r in rows], dtype=np.float64)
        if not optim.clip_value:
            clipped = np.minimum(norm, optim.clip_norm) if optim.clip_norm else norm
    return Dynamics(step, loss, norm, clipped, float(optim.clip_norm), float(optim.clip_value))
