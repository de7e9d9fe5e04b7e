"""The Numenta Anomaly Benchmark (NAB) corpus: labelled series and its probationary period.

``<data dir>/nab/`` (or the folder given) holds NAB's ``data/<folder>/*.csv`` (``timestamp,value``)
and ``labels/combined_windows.json``. NAB keeps each file's row order: a few files repeat a
timestamp, and one steps back an hour, so the files are read with ``order="keep"`` and
``duplicates="keep"``. Licence: MIT (github.com/numenta/NAB).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..fetch import ENV_VAR, data_dir
from ..labels import Window, read_windows
from ..timeseries import TimeSeries, read_series

FOLDERS = (
    "realKnownCause",
    "realAWSCloudwatch",
    "artificialWithAnomaly",
    "artificialNoAnomaly",
)


def probation_length(length: int, fraction: float = 0.15) -> int:
    """NAB's probationary period: ``min(floor(fraction·T), fraction·5000)`` records (≤ 750)."""
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    return int(min(math.floor(fraction * length), math.floor(fraction * 5000)))


@dataclass(frozen=True)
class LabelledSeries:
    """A series with its anomaly windows (record indices, inclusive) and probationary period."""

    key: str  # e.g. "realKnownCause/nyc_taxi.csv"
    series: TimeSeries
    windows: list[Window]
    probation: int

    @property
    def folder(self) -> str:
        return self.key.split("/")[0]


def read_nab_file(path: str | os.PathLike) -> TimeSeries:
    """One NAB CSV, read as NAB reads it (file order and repeated timestamps kept)."""
    return read_series(path, "timestamp", ["value"], order="keep", duplicates="keep")


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

    Label keys whose file is absent are ignored (the label file covers all 58 NAB files).
    """
    root = nab_root(directory)
    labels_path = root / "labels" / "combined_windows.json"
    labels = json.loads(labels_path.read_text())
    found = []
    for folder in FOLDERS if folders is None else tuple(folders):
        files = sorted((root / "data" / folder).glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"NAB folder {root / 'data' / folder} holds no CSV file")
        for path in files:
            key = f"{folder}/{path.name}"
            if key not in labels:
                raise ValueError(f"{labels_path}: no entry for {key}")
            series = read_nab_file(path)
            windows = read_windows(labels_path, series, key=key)
            found.append(LabelledSeries(key, series, windows, probation_length(len(series))))
    return found
