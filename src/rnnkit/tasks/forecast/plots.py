"""PNG plots of a forecast run, drawn with matplotlib's object API (no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_forecast(
    path: str | Path,
    history: pd.Series,
    actual: pd.Series,
    forecasts: dict[str, np.ndarray],
    *,
    interval: tuple[np.ndarray, np.ndarray, str] | None = None,
    title: str = "",
) -> Path:
    """History, the actual future and one line per forecast (the first is the model's).

    Args:
        history: the lookback window (values on a DatetimeIndex).
        actual: the true values of the H forecast steps; its index is the forecast timestamps.
        forecasts: name -> (H,) forecast in the same units.
        interval: optional ``(lower (H,), upper (H,), label)`` band around the model's forecast.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot(history.index, history.to_numpy(), color="0.3", lw=1, label="history")
    ax.plot(actual.index, actual.to_numpy(), color="k", lw=1.2, label="actual")
    if interval is not None:
        lo, hi, label = interval
        ax.fill_between(actual.index, lo, hi, color="C0", alpha=0.2, label=label)
    for i, (name, values) in enumerate(forecasts.items()):
        style = {"lw": 1.8} if i == 0 else {"lw": 1, "ls": "--"}
        ax.plot(actual.index, values, color=f"C{i}", label=name, **style)
    ax.axvline(history.index[-1], color="0.6", lw=0.8)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_error_by_step(
    path: str | Path, errors: dict[str, list[float]], *, metric: str = "MAE", title: str = ""
) -> Path:
    """One line per model/baseline: ``metric`` against the horizon step (1..H)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for i, (name, values) in enumerate(errors.items()):
        steps = np.arange(1, len(values) + 1)
        ax.plot(steps, values, color=f"C{i}", lw=1.8 if i == 0 else 1, label=name)
    ax.set_xlabel("horizon step")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
