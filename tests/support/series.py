"""Small time-series CSV files written by tests."""

from __future__ import annotations

import pandas as pd


def write_csv(path, rows, header="time,a,b"):
    """A CSV of ``header`` and ``rows`` (strings), one per line."""
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def hourly_rows(n, start="2020-01-01 00:00"):
    """``n`` hourly rows ``time,i,2i``."""
    times = pd.date_range(start, periods=n, freq="h")
    return [f"{t:%Y-%m-%d %H:%M},{i},{2 * i}" for i, t in enumerate(times)]
