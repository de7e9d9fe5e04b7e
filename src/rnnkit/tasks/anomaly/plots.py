"""Figure of a scored series: values with labelled windows shaded, scores, threshold, events."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .nab import Window  # noqa: E402


def plot_detection(
    path: str | os.PathLike,
    values: np.ndarray,
    scores: np.ndarray,
    levels: np.ndarray,
    events: Sequence[int],
    windows: Sequence[Window] = (),
    train_rows: int | None = None,
    title: str = "",
    columns: Sequence[str] = (),
) -> Path:
    """Save a two-panel figure and return its path.

    Top: the (T, C) values against the record index, labelled anomaly windows shaded red, the
    training records shaded grey, detection events as vertical lines. Bottom: the (T,) scores
    and the threshold in force at each record (log scale when the scores span decades).
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    t = np.arange(len(values))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, height_ratios=(3, 2))
    for c in range(values.shape[1]):
        label = columns[c] if c < len(columns) else f"column {c}"
        top.plot(t, values[:, c], lw=0.7, label=label)
    for ax in (top, bottom):
        for start, end in windows:
            ax.axvspan(start, end, color="tab:red", alpha=0.15, lw=0)
        if train_rows:
            ax.axvspan(0, train_rows, color="grey", alpha=0.15, lw=0)
        for i, e in enumerate(events):
            ax.axvline(e, color="tab:purple", lw=0.9, ls="--", label="event" if i == 0 else None)
    bottom.plot(t, scores, lw=0.7, color="tab:blue", label="score")
    bottom.plot(t, levels, lw=0.9, color="tab:orange", label="threshold")
    finite = np.asarray(scores)[np.isfinite(scores)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3:
        bottom.set_yscale("log")
    top.set_title(title or "anomaly detection")
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("record")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
