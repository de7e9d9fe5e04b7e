"""Time series and anomaly labels from CSV/JSON files, and the NAB corpus loader.

A series file is a CSV with a timestamp column and one or more numeric value columns; NAB's
``timestamp,value`` works as is. Labels are either windows ``[start, end]`` or single anomaly
timestamps (turned into windows the way NAB's labeller does), stored as

* a JSON object mapping a key (NAB: ``"<folder>/<file>.csv"``) to a list of windows or timestamps
  (NAB's ``labels/combined_windows.json`` and ``combined_labels.json``), or
* a CSV with columns ``start,end`` (windows) or ``timestamp`` (points).

Every error names the file, and the column when one is at fault.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.data.fetch import ENV_VAR, data_dir

from .nab import Window, probation_length

NAB_FOLDERS = (
    "realKnownCause",
    "realAWSCloudwatch",
    "artificialWithAnomaly",
    "artificialNoAnomaly",
)
ORDERS = ("error", "keep", "sort")


@dataclass(frozen=True)
class Series:
    """A multivariate time series: T records of C values.

    Attributes:
        source: where it came from (the file path), used in error messages.
        timestamps: (T,) ``datetime64[ns]``.
        values: (T, C) float64, no NaN.
        columns: the C value column names.
    """

    source: str
    timestamps: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.values)

    def head(self, rows: int) -> Series:
        """The first ``rows`` records."""
        return Series(self.source, self.timestamps[:rows], self.values[:rows], self.columns)

    @property
    def column_text(self) -> str:
        return ", ".join(repr(c) for c in self.columns)


@dataclass(frozen=True)
class LabelledSeries:
    """A series with its anomaly windows (record indices, inclusive) and probationary period."""

    key: str  # e.g. "realKnownCause/nyc_taxi.csv"
    series: Series
    windows: list[Window]
    probation: int

    @property
    def folder(self) -> str:
        return self.key.split("/")[0]


def read_series(
    path: str | os.PathLike,
    timestamp_column: str | None = None,
    value_columns: Sequence[str] | None = None,
    order: str = "error",
) -> Series:
    """Read a CSV of a timestamp column and numeric value columns.

    Args:
        path: the CSV file.
        timestamp_column: defaults to ``"timestamp"`` if present, else the first column.
        value_columns: defaults to every other column.
        order: what to do when a timestamp is earlier than the one before it: ``"error"``
            (raise naming the row), ``"keep"`` (keep file order, as NAB does: its
            machine_temperature file steps back an hour once) or ``"sort"`` (stable sort).
            Equal timestamps are allowed.

    Interior NaN values are filled by linear interpolation, leading/trailing ones by the nearest
    value. A column with no numeric value at all, or a non-numeric one, is an error.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"series file {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as CSV ({error})") from error
    if frame.shape[1] < 2:
        raise ValueError(
            f"{path}: needs a timestamp column and at least one value column, "
            f"got columns {list(frame.columns)}"
        )
    if timestamp_column is None:
        timestamp_column = "timestamp" if "timestamp" in frame.columns else str(frame.columns[0])
    if timestamp_column not in frame.columns:
        raise ValueError(
            f"{path}: no timestamp column {timestamp_column!r}; columns are {list(frame.columns)}"
        )
    if value_columns is None:
        value_columns = [str(c) for c in frame.columns if c != timestamp_column]
    missing = [c for c in value_columns if c not in frame.columns]
    if missing or not value_columns:
        raise ValueError(
            f"{path}: value columns {missing or list(value_columns)} not found; "
            f"columns are {list(frame.columns)}"
        )
    stamps = pd.to_datetime(frame[timestamp_column], errors="coerce")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise ValueError(
            f"{path}: column {timestamp_column!r} row {row} is not a timestamp: "
            f"{frame[timestamp_column].iloc[row]!r}"
        )
    stamps = stamps.to_numpy(dtype="datetime64[ns]")
    back = np.flatnonzero(np.diff(stamps) < np.timedelta64(0, "ns"))
    if back.size and order == "error":
        i = int(back[0]) + 1
        raise ValueError(
            f"{path}: column {timestamp_column!r} is not sorted: row {i} ({stamps[i]}) comes "
            f"before row {i - 1} ({stamps[i - 1]}); sort the file or pass order='sort'/'keep'"
        )
    if back.size and order == "sort":
        frame = frame.iloc[np.argsort(stamps, kind="stable")].reset_index(drop=True)
        stamps = np.sort(stamps, kind="stable")
    columns = []
    for column in value_columns:
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = numeric.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}: column {column!r} row {row} is not a number: {frame[column].iloc[row]!r}"
            )
        if numeric.isna().all():
            raise ValueError(f"{path}: column {column!r} has no values (all NaN or empty)")
        columns.append(numeric.interpolate(limit_direction="both").to_numpy(dtype=np.float64))
    return Series(
        source=str(path),
        timestamps=stamps,
        values=np.stack(columns, axis=1),
        columns=tuple(str(c) for c in value_columns),
    )


def windows_from_points(stamps: np.ndarray, points: Sequence, fraction: float = 0.1) -> list:
    """NAB's labeller: centre a window of ``fraction·T / len(points)`` records on each point.

    Returns ``[start, end]`` timestamp pairs; overlapping windows are merged.
    """
    if not points:
        return []
    width = int(fraction * len(stamps) / len(points))
    spans: list[list[int]] = []
    for point in sorted(pd.to_datetime(list(points)).to_numpy(dtype="datetime64[ns]")):
        i = int(np.searchsorted(stamps, point))
        lo, hi = max(0, i - width // 2), min(len(stamps) - 1, i + width // 2)
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return [[stamps[lo], stamps[hi]] for lo, hi in spans]


def _parse_labels(entries: list, source: str, stamps: np.ndarray) -> list:
    if all(isinstance(e, (list, tuple)) and len(e) == 2 for e in entries):
        return [list(e) for e in entries]
    if all(isinstance(e, str) for e in entries):
        return windows_from_points(stamps, entries)
    raise ValueError(f"{source}: labels must be a list of [start, end] pairs or of timestamps")


def read_windows(path: str | os.PathLike, series: Series, key: str | None = None) -> list[Window]:
    """Anomaly windows of ``series`` from a label file, as record-index pairs (inclusive).

    ``key`` picks the entry of a JSON label file (default: the series file's name, or its last
    two path parts ``folder/file.csv`` as NAB writes them). Windows are mapped to the records whose
    timestamps fall inside them; a window holding no record is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    if path.suffix.lower() == ".json":
        table = json.loads(path.read_text())
        if not isinstance(table, dict):
            raise ValueError(f"{path}: expected a JSON object mapping series keys to labels")
        source = Path(series.source)
        candidates = [key] if key else [source.name, f"{source.parent.name}/{source.name}"]
        found = [c for c in candidates if c in table]
        if not found:
            raise ValueError(f"{path}: no labels for {' or '.join(map(repr, candidates))}")
        pairs = _parse_labels(table[found[0]], f"{path}[{found[0]!r}]", series.timestamps)
    else:
        frame = pd.read_csv(path)
        if {"start", "end"} <= set(frame.columns):
            pairs = frame[["start", "end"]].values.tolist()
        elif "timestamp" in frame.columns:
            pairs = windows_from_points(series.timestamps, frame["timestamp"].tolist())
        else:
            raise ValueError(
                f"{path}: label CSV needs columns 'start','end' or 'timestamp', "
                f"got {list(frame.columns)}"
            )
    windows = []
    for start, end in pairs:
        lo, hi = pd.Timestamp(start).to_datetime64(), pd.Timestamp(end).to_datetime64()
        inside = np.flatnonzero((series.timestamps >= lo) & (series.timestamps <= hi))
        if inside.size == 0:
            raise ValueError(f"{path}: window [{start}, {end}] holds no record of {series.source}")
        windows.append((int(inside[0]), int(inside[-1])))
    return sorted(windows)


def nab_root(directory: str | os.PathLike | None = None) -> Path:
    """The NAB folder (holding ``data/`` and ``labels/``): ``directory`` or ``$RNNKIT_DATA``,
    or their ``nab/`` subfolder."""
    base = data_dir(directory)
    for candidate in (base, base / "nab"):
        if (candidate / "labels" / "combined_windows.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"no NAB corpus under {base}: expected labels/combined_windows.json there or in {base}/nab "
        f"(pass --data-dir or set ${ENV_VAR}; numenta/NAB's data/ and labels/ folders)"
    )


def load_nab(
    directory: str | os.PathLike | None = None, folders: Sequence[str] | None = None
) -> list[LabelledSeries]:
    """Every NAB file present under :func:`nab_root` with its windows, in sorted order.

    Label keys whose file is absent are ignored (the label file covers all 58 NAB files). Files
    keep their row order, as NAB scores them.
    """
    root = nab_root(directory)
    labels_path = root / "labels" / "combined_windows.json"
    labels = json.loads(labels_path.read_text())
    folders = NAB_FOLDERS if folders is None else tuple(folders)
    found = []
    for folder in folders:
        files = sorted((root / "data" / folder).glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"NAB folder {root / 'data' / folder} holds no CSV file")
        for path in files:
            key = f"{folder}/{path.name}"
            if key not in labels:
                raise ValueError(f"{labels_path}: no entry for {key}")
            series = read_series(path, order="keep")
            windows = read_windows(labels_path, series, key=key)
            found.append(LabelledSeries(key, series, windows, probation_length(len(series))))
    return found


def check_trainable(series: Series, rows: int, min_rows: int, what: str) -> None:
    """Raise a ValueError naming the file and columns when the first ``rows`` records cannot
    train a detector: fewer than ``min_rows`` of them, or a column constant over them."""
    if rows < min_rows:
        raise ValueError(
            f"{series.source}: column(s) {series.column_text}: {rows} training records, but "
            f"{what} needs at least {min_rows}; the series is too short"
        )
    head = series.values[:rows]
    spread = head.max(axis=0) - head.min(axis=0)
    for c, column in enumerate(series.columns):
        if not math.isfinite(spread[c]) or spread[c] == 0:
            raise ValueError(
                f"{series.source}: column {column!r} is constant ({head[0, c]:g}) over the "
                f"{rows} training records; there is nothing to learn a scale or pattern from"
            )
