"""PNG plots of a run: loss curves and a confusion matrix.

Figures are built with matplotlib's object API (``Figure``), not pyplot: no window, no global
backend switch, safe in a notebook or a worker process. matplotlib is imported when a figure is
drawn (it takes a second or two), not when this module is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure


def plot_losses(
    rows: Sequence[dict[str, float]], path: Path, title: str = "", best_epoch: int | None = None
) -> None:
    """Save :func:`loss_figure` as a PNG."""
    loss_figure(rows, title, best_epoch).savefig(path, dpi=100)


def loss_figure(
    rows: Sequence[dict[str, float]], title: str = "", best_epoch: int | None = None
) -> Figure:
    """Train (and validation) loss per epoch from ``log.csv`` rows, epochs numbered from 0 as
    there; the best epoch (the best checkpoint's) is marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = [r["epoch"] for r in rows]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [r.get(key) for r in rows]
        if any(v is not None for v in values):
            ax.plot(epochs, values, marker="o", markersize=3, label=label)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.5", ls="--", lw=1, label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch (from 0, as in log.csv)")
    ax.set_ylabel("loss")
    drawn = [
        v
        for r in rows
        for key in ("train_loss", "val_loss")
        if (v := r.get(key)) is not None and math.isfinite(v) and v > 0
    ]
    if drawn:  # a diverged run (inf/NaN losses only) is drawn on a linear scale
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str = ""
) -> None:
    """A confusion matrix (rows: true class, columns: predicted) with counts in the cells."""
    from matplotlib.figure import Figure

    n = len(labels)
    fig = Figure(figsize=(1.5 + 0.5 * n, 1.2 + 0.5 * n))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90 if max(len(s) for s in labels) > 3 else 0)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            value = matrix[i][j]
            if value:
                color = "white" if value > top / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
