"""Spacing and calendar of a time index: frequency inference, gaps, seasons, calendar features.

* :func:`infer_freq` — the offset alias of an index's step (tolerating a few gaps);
* :func:`find_gaps` — missing timestamps on a frequency's grid;
* :func:`season_length` — the customary seasonal period of a frequency (24 for hourly...);
* :func:`calendar_features` — known-future covariates (hour, weekday...) in [-0.5, 0.5].
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import DataError


def infer_freq(index: pd.DatetimeIndex, source: str = "<index>") -> str:
    """The spacing of ``index`` as a pandas offset alias; tolerates a few gaps.

    Uses ``pd.infer_freq`` on the whole index, else on its longest gap-free stretch of the most
    common step. Raises ``DataError`` when there are fewer than 3 timestamps or no regular step.
    """
    if len(index) < 3:
        raise DataError(f"{source}: need at least 3 timestamps to infer the frequency")
    guess = _infer(index)
    if guess is None:
        steps = np.diff(index.asi8)
        values, counts = np.unique(steps, return_counts=True)
        common = values[np.argmax(counts)]
        runs = np.flatnonzero(steps != common)
        bounds = np.concatenate([[-1], runs, [len(steps)]])
        longest = int(np.argmax(np.diff(bounds)))
        lo, hi = bounds[longest] + 1, bounds[longest + 1] + 1
        if hi - lo >= 3:
            guess = _infer(index[lo:hi])
        if guess is None and counts.max() > len(steps) // 2:
            guess = pd.tseries.frequencies.to_offset(pd.Timedelta(int(common), "ns")).freqstr
    if guess is None:
        raise DataError(f"{source}: cannot infer the frequency of the timestamps; pass freq")
    return guess


def _infer(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 FutureWarning about the return type
        try:
            guess = pd.infer_freq(index)
        except (ValueError, TypeError):
            return None
    if guess is None:
        return None
    return pd.tseries.frequencies.to_offset(guess).freqstr


def find_gaps(
    index: pd.DatetimeIndex, freq: str, source: str = "<index>"
) -> list[tuple[pd.Timestamp, int]]:
    """Missing timestamps in ``index``: ``[(timestamp before the gap, steps missing), ...]``."""
    full = pd.date_range(index[0], index[-1], freq=freq)
    if len(full) == len(index) and full.equals(index):
        return []
    unexpected = index.difference(full)
    if len(unexpected):
        raise DataError(
            f"{source}: timestamp {unexpected[0]} is off the {freq!r} grid that starts at "
            f"{index[0]}"
        )
    present = full.isin(index)
    gaps = []
    i = 0
    while i < len(full):
        if present[i]:
            i += 1
            continue
        j = i
        while not present[j]:
            j += 1
        gaps.append((full[i - 1], j - i))
        i = j
    return gaps


_SEASONS = {"min": 60 * 24, "h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "Q": 4}


def season_length(freq: str) -> int:
    """The customary seasonal period for ``freq``: 24 for hourly, 96 for 15-minute, 12 monthly.

    Daily → 7, business-daily → 5, weekly → 52, quarterly → 4, yearly and others → 1.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.rule_code.split("-")[0].rstrip("SE") or "S"  # MS/ME -> M, QS-JAN -> Q
    if name in ("min", "h"):
        return max(1, _SEASONS[name] // offset.n)
    if name == "s":
        return max(1, 86400 // offset.n)
    return _SEASONS.get(name, 1)


def calendar_features(index: pd.DatetimeIndex, freq: str) -> pd.DataFrame:
    """Known-future calendar covariates in [-0.5, 0.5], chosen by the frequency (as Informer).

    Sub-daily: minute (when finer than hourly), hour, weekday, day of month, day of year.
    Daily/weekly: weekday, day of month, day of year. Monthly and coarser: month.
    Returns a (T, F) frame on ``index``.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    step = pd.Timedelta(offset) if offset.rule_code in ("min", "h", "s", "D") else None
    cols: dict[str, np.ndarray] = {}
    if step is not None and step < pd.Timedelta("1h"):
        cols["minute"] = index.minute / 59.0 - 0.5
    if step is not None and step < pd.Timedelta("1D"):
        cols["hour"] = index.hour / 23.0 - 0.5
    if step is not None or offset.rule_code in ("B", "W"):
        cols["weekday"] = index.day_of_week / 6.0 - 0.5
        cols["day_of_month"] = (index.day - 1) / 30.0 - 0.5
        cols["day_of_year"] = (index.day_of_year - 1) / 365.0 - 0.5
    else:
        cols["month"] = (index.month - 1) / 11.0 - 0.5
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, index=index)
