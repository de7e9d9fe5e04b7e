"""From a CSV (or an ETT file) to scaled window datasets for the three ETT modes.

Modes (the ETT protocol's names):

* ``S``  — univariate: one target column, nothing else observed.
* ``M``  — multivariate to multivariate: every observed column is input and target.
* ``MS`` — multivariate to target: every observed column is input, the targets are forecast.

Observed columns are the targets followed by the past-observed covariates (by default every other
value column that is not a known-future one). Known-future covariates (CSV columns named in
``known`` and, with ``calendar=True``, calendar features) are appended to the inputs and also
given for the forecast steps. Scalers are fitted on the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.data.datasets import ett
from rnnkit.data.frequency import calendar_features, season_length
from rnnkit.data.scaling import Scaler, make_scaler
from rnnkit.data.splits import Split, chronological_split
from rnnkit.data.timeseries import TimeSeries, read_series
from rnnkit.data.windows import WindowDataset, window_starts

MODES = ("S", "M", "MS")


@dataclass(frozen=True)
class Columns:
    """Resolved column roles: ``observed`` starts with the ``targets``."""

    targets: tuple[str, ...]
    observed: tuple[str, ...]
    known: tuple[str, ...]  # CSV known-future columns (calendar features come on top)


def resolve_columns(
    header: list[str],
    mode: str,
    targets: tuple[str, ...],
    covariates: tuple[str, ...],
    known: tuple[str, ...],
    *,
    source: str,
) -> Columns:
    """Check the names against the file's value columns and assign roles for ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    for role, names in (("target", targets), ("covariate", covariates), ("known", known)):
        for name in names:
            if name not in header:
                raise ValueError(f"{source}: no {role} column {name!r}; value columns: {header}")
    if not targets:
        if mode != "M":
            raise ValueError(f"{source}: mode {mode} needs a target column (--data.target)")
        targets = tuple(c for c in header if c not in known and c not in covariates)
    if mode == "S":
        if len(targets) != 1:
            raise ValueError(f"mode S forecasts one target column, got {list(targets)}")
        return Columns(targets, targets, known)
    rest = covariates or tuple(c for c in header if c not in targets and c not in known)
    if mode == "M":
        observed = targets + tuple(c for c in rest if c not in targets)
        return Columns(observed, observed, known)
    return Columns(targets, targets + tuple(c for c in rest if c not in targets), known)


@dataclass
class Prepared:
    """A validated series with roles, split, fitted scalers and scaled arrays.

    ``z_obs`` is (T, C_obs) and ``z_known`` (T, C_k) (C_k may be 0), both scaled with scalers
    fitted on ``split.train`` rows only.
    """

    series: TimeSeries
    columns: Columns
    split: Split
    lookback: int
    horizon: int
    scaler: Scaler
    known_scaler: Scaler
    calendar: bool
    z_obs: np.ndarray
    z_known: np.ndarray

    @property
    def n_targets(self) -> int:
        return len(self.columns.targets)

    @property
    def season(self) -> int:
        return season_length(self.series.freq)

    def rows(self, part: str) -> tuple[int, int]:
        """Rows windows of ``part`` read (validation/test start ``lookback`` before the border)."""
        return self.split.with_context(part, self.lookback)

    def dataset(self, part: str, stride: int = 1) -> WindowDataset:
        a, b = self.rows(part)
        inputs = np.concatenate([self.z_obs[a:b], self.z_known[a:b]], axis=1)
        known = self.z_known[a:b] if self.z_known.shape[1] else None
        source = f"{self.series.source} ({part} rows {a}-{b})"
        return WindowDataset(
            inputs, self.z_obs[a:b], self.lookback, self.horizon, stride, known, offset=a,
            source=source,
        )  # fmt: skip

    def origins(self, part: str, stride: int = 1) -> np.ndarray:
        """Row (in the whole series) of the last observed value of each window of ``part``."""
        a, b = self.rows(part)
        return a + window_starts(b - a, self.lookback, self.horizon, stride) + self.lookback - 1


def known_features(
    index: pd.DatetimeIndex, freq: str, frame: pd.DataFrame | None, calendar: bool
) -> pd.DataFrame:
    """(T, C_k) known-future covariates: the CSV's known columns, then calendar features."""
    parts = [] if frame is None else [frame]
    if calendar:
        parts.append(calendar_features(index, freq))
    if not parts:
        return pd.DataFrame(index=index)
    return pd.concat(parts, axis=1)


def load_series(
    *,
    csv: str | Path | None,
    ett_name: str | None,
    data_dir: str | Path | None,
    time_column: str,
    freq: str | None,
    fill: str,
) -> TimeSeries:
    """The series of a CSV file or of an ETT data set (exactly one of the two)."""
    if bool(csv) == bool(ett_name):
        raise ValueError("give exactly one of --data.csv PATH or --data.ett NAME")
    if ett_name:
        return ett.load(ett_name, data_dir)
    return read_series(csv, time_column, regular=True, freq=freq, fill=fill)


def prepare(
    series: TimeSeries,
    *,
    mode: str,
    targets: tuple[str, ...],
    covariates: tuple[str, ...] = (),
    known: tuple[str, ...] = (),
    calendar: bool = False,
    lookback: int,
    horizon: int,
    split: Split | None = None,
    val: float | int = 0.1,
    test: float | int = 0.2,
    scaler: str = "standard",
) -> Prepared:
    """Roles, chronological split, scalers fitted on train rows, scaled arrays.

    Refuses (``ValueError``, lengths stated) a series or a part too short for one window.
    """
    source = series.source
    columns = resolve_columns(series.columns, mode, targets, covariates, known, source=source)
    window_starts(len(series), lookback, horizon, source=source)  # whole series long enough?
    split = split or chronological_split(len(series), val, test, source=source)
    for part in ("train", "val", "test"):
        a, b = split.with_context(part, lookback)
        window_starts(b - a, lookback, horizon, source=f"{source}: the {part} part (rows {a}-{b})")
    train = slice(*split.train)
    obs = series.values(columns.observed)
    fitted = make_scaler(scaler).fit(obs[train])
    kframe = known_features(
        series.index, series.freq, series.frame[list(columns.known)] if known else None, calendar
    )
    kvals = kframe.to_numpy(dtype=np.float64)
    has_known = kvals.shape[1] > 0
    known_scaler = make_scaler(scaler).fit(kvals[train]) if has_known else make_scaler("none")
    z_known = known_scaler.transform(kvals) if has_known else kvals
    return Prepared(
        series=series,
        columns=columns,
        split=split,
        lookback=lookback,
        horizon=horizon,
        scaler=fitted,
        known_scaler=known_scaler,
        calendar=calendar,
        z_obs=fitted.transform(obs),
        z_known=z_known,
    )
