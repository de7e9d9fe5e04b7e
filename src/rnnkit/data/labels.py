"""Anomaly labels: windows ``[start, end]`` or single timestamps, from JSON or CSV label files.

Two layouts are read:

* a JSON object mapping a key (NAB: ``"<folder>/<file>.csv"``) to a list of windows or of
  timestamps (NAB's ``labels/combined_windows.json`` and ``combined_labels.json``);
* a CSV with columns ``start,end`` (windows) or ``timestamp`` (points).

Single timestamps become windows the way NAB's labeller makes them (:func:`windows_from_points`).
Windows are returned as record indices of the series they label, inclusive at both ends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .timeseries import TimeSeries

Window = tuple[int, int]  # record indices (start, end), inclusive


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
    raise DataError(f"{source}: labels must be a list of [start, end] pairs or of timestamps")


def read_windows(
    path: str | os.PathLike, series: TimeSeries, key: str | None = None
) -> list[Window]:
    """Anomaly windows of ``series`` from a label file, as record-index pairs (inclusive).

    ``key`` picks the entry of a JSON label file (default: the series file's name, or its last
    two path parts ``folder/file.csv`` as NAB writes them). Windows are mapped to the records whose
    timestamps fall inside them; a window holding no record is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such label file")
    stamps = series.timestamps
    try:
        if path.suffix.lower() == ".json":
            table = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(table, dict):
                raise DataError(f"{path}: expected a JSON object mapping series keys to labels")
            source = Path(series.source)
            candidates = [key] if key else [source.name, f"{source.parent.name}/{source.name}"]
            found = [c for c in candidates if c in table]
            if not found:
                raise DataError(f"{path}: no labels for {' or '.join(map(repr, candidates))}")
            pairs = _parse_labels(table[found[0]], f"{path}[{found[0]!r}]", stamps)
        else:
            frame = pd.read_csv(path)
            if {"start", "end"} <= set(frame.columns):
                pairs = frame[["start", "end"]].values.tolist()
            elif "timestamp" in frame.columns:
                pairs = windows_from_points(stamps, frame["timestamp"].tolist())
            else:
                raise DataError(
                    f"{path}: line 1: a label CSV needs columns 'start','end' or 'timestamp', "
                    f"got {list(frame.columns)}"
                )
        windows = []
        for start, end in pairs:
            lo, hi = pd.Timestamp(start).to_datetime64(), pd.Timestamp(end).to_datetime64()
            inside = np.flatnonzero((stamps >= lo) & (stamps <= hi))
            if inside.size == 0:
                raise DataError(
                    f"{path}: window [{start}, {end}] holds no record of {series.source}"
                )
            windows.append((int(inside[0]), int(inside[-1])))
    except (UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: not a readable label file ({e})") from None
    except (pd.errors.EmptyDataError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: not a readable label file ({e})") from None
    return sorted(windows)
