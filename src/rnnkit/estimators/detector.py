"""``rnnkit.Detector``: time-series anomaly detection from a DataFrame.

::

    detector = rnnkit.Detector(method="forecast", epochs=20).fit(df)   # learns from its start
    found = detector.detect(df)          # timestamp, values, score, threshold, flag, event
    detector.score(window)               # the anomaly score of the last record of a window

It is the ``anomaly`` task: the detector learns from the first records of the series it is
given (NAB's probationary period by default), exactly as ``rnnkit anomaly train`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.timeseries import TimeSeries

from .base import Estimator
from .inputs import frame_from


class Detector(Estimator):
    """Anomaly detector of a series (see the module docstring); ``method=`` picks the scorer.

    Args:
        run_dir, verbose, **settings: see :class:`rnnkit.estimators.base.Estimator`.
    """

    task_name = "anomaly"

    def fit(self, df: pd.DataFrame | str | Path, time_column: str | None = None) -> Detector:
        """Train on ``df`` (a DataFrame with a timestamp column and value columns, or a CSV)."""
        frame = frame_from(df, "df")
        folder = self._new_run_dir()
        data = folder / "data" / "series.csv"
        data.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(data, index=False)
        overrides: dict[str, Any] = {"data.path": str(data)}
        if time_column is not None:
            overrides["data.timestamp_column"] = time_column
        self._fit_run(self.config(**overrides), folder)
        return self

    @property
    def detector_(self):
        """The trained :class:`rnnkit.tasks.anomaly.Detector` (network, threshold, rule)."""
        from rnnkit.tasks.anomaly import Detector as Trained

        run = self.run_
        return Trained.from_state(run.model, run.config, run.state)

    def _series(self, df: pd.DataFrame | str | Path) -> TimeSeries:
        from rnnkit.tasks.anomaly import read_data

        if isinstance(df, (str, Path)):
            return read_data(self.run_.config.data, df)
        path = self.path_ / "data" / "input.csv"
        frame_from(df, "df").to_csv(path, index=False)
        return read_data(self.run_.config.data, path)

    def detect(self, df: pd.DataFrame | str | Path) -> pd.DataFrame:
        """Score every record of ``df`` point by point: a frame on its timestamps with the values,
        ``score``, ``threshold``, ``flag`` and ``event`` (1 at each event's first record)."""
        series = self._series(df)
        found = self.detector_.detect(series)
        frame = series.frame.copy()
        frame["score"], frame["threshold"] = found.scores, found.levels
        frame["flag"] = found.flags.astype(int)
        frame["event"] = 0
        frame.iloc[found.events, frame.columns.get_loc("event")] = 1
        return frame

    def score(self, window: np.ndarray) -> float:
        """The anomaly score of the last record of ``window`` (R, C) raw values (unsmoothed), R
        at least the detector's context (the window length; the forecaster's plus one)."""
        detector = self.detector_
        values = np.asarray(window, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if len(values) < detector.context:
            raise ValueError(
                f"window: needs at least {detector.context} records, got {len(values)}"
            )
        return float(detector.raw_scores(values)[-1])
