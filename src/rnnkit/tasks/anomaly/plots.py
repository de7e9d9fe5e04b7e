"""Figure of a scored series: values with labelled windows shaded, scores, threshold, events.

Built with matplotlib's object API (``Figure``), imported when a figure is drawn: no global
backend switch, no window (the same policy as :mod:`rnnkit.train.plots`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.data.labels import Window
from rnnkit.data.timeseries import TimeSeries

from .detector import Detection

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure


def plot_detection(
    path: str | os.PathLike,
    series: TimeSeries,
    found: Detection,
    windows: Sequence[Window] = (),
    train_rows: int | None = None,
    title: str = "",
) -> Path:
    """Save :func:`detection_figure` as a PNG and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    detection_figure(series, found, windows, train_rows, title).savefig(path, dpi=110)
    return path


def detection_figure(
    series: TimeSeries,
    found: Detection,
    windows: Sequence[Window] = (),
    train_rows: int | None = None,
    title: str = "",
) -> Figure:
    """A two-panel figure of a scored series against its timestamps.

    Top: the (T, C) values, labelled anomaly windows shaded red, the records the detector learnt
    from shaded grey, detection events as dashed lines. Bottom: the (T,) scores and the
    threshold in force at each record (log scale when the scores span decades).
    """
    from matplotlib.figure import Figure

    values, t = series.values(), series.timestamps
    fig = Figure(figsize=(12, 5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for c, column in enumerate(series.columns):
        top.plot(t, values[:, c], lw=0.7, label=column)
    for ax in (top, bottom):
        for i, (start, end) in enumerate(windows):
            label = "labelled anomaly window" if i == 0 and ax is top else None
            ax.axvspan(t[start], t[end], color="tab:red", alpha=0.15, lw=0, label=label)
        if train_rows:
            label = "records learnt from" if ax is top else None
            ax.axvspan(t[0], t[min(train_rows, len(t)) - 1], color="grey", alpha=0.15, lw=0,
                       label=label)  # fmt: skip
        for i, e in enumerate(found.events):
            label = "detection event" if i == 0 and ax is top else None
            ax.axvline(t[e], color="tab:purple", lw=0.9, ls="--", label=label)
    bottom.plot(t, found.scores, lw=0.7, color="tab:blue", label="score")
    bottom.plot(t, found.levels, lw=0.9, color="tab:orange", label="threshold")
    finite = np.asarray(found.scores)[np.isfinite(found.scores)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3:
        bottom.set_yscale("log")
    top.set_title(title or "anomaly detection")
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel(series.index.name or "time")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
