"""The run's loss plot numbers epochs as log.csv does and marks the best one; the anomaly plot
runs on the series' timestamps with labelled bands."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from rnnkit.data.timeseries import TimeSeries
from rnnkit.tasks.anomaly.detector import Detection
from rnnkit.tasks.anomaly.plots import detection_figure
from rnnkit.train.plots import loss_figure


def test_loss_plot_numbers_epochs_from_zero_and_marks_the_best():
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1)} for e in range(4)]
    ax = loss_figure(rows, "run", best_epoch=2).axes[0]
    train, val, best = ax.lines
    assert list(train.get_xdata()) == [0, 1, 2, 3] and list(val.get_xdata()) == [0, 1, 2, 3]
    assert list(best.get_xdata()) == [2, 2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "train", "validation", "best epoch (2)"
    ]  # fmt: skip


def test_loss_plot_of_a_diverged_run_draws_on_a_linear_scale():
    """A run whose losses are all inf/NaN (training without clipping that overflowed) still
    gets its figure: matplotlib refuses a log scale with no positive finite value."""
    rows = [{"epoch": e, "train_loss": float("nan"), "val_loss": float("inf")} for e in range(3)]
    fig = loss_figure(rows, "diverged")
    fig.savefig(io.BytesIO(), format="png")
    assert fig.axes[0].get_yscale() == "linear"
    finite = loss_figure([{"epoch": 0, "train_loss": 0.5}, {"epoch": 1, "train_loss": 0.2}])
    assert finite.axes[0].get_yscale() == "log"


def test_detection_plot_uses_timestamps_and_labels_its_bands():
    index = pd.date_range("2021-01-01", periods=50, freq="h", name="timestamp")
    series = TimeSeries(pd.DataFrame({"value": np.arange(50.0)}, index=index), None, "x.csv")
    scores = np.linspace(0, 1, 50)
    found = Detection(scores, np.full(50, 0.5), scores > 0.9, np.array([46]))
    fig = detection_figure(series, found, windows=[(40, 48)], train_rows=10, title="x.csv")
    top, bottom = fig.axes
    x = top.lines[0].get_xdata()
    assert np.issubdtype(np.asarray(x).dtype, np.datetime64) or isinstance(x[0], pd.Timestamp)
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert {"labelled anomaly window", "records learnt from", "detection event"} <= set(labels)
    assert top.get_title() == "x.csv" and bottom.get_xlabel() == "timestamp"
