"""``rnnkit.Forecaster``: multi-step forecasting from a DataFrame, one series or many.

::

    model = rnnkit.Forecaster(lookback=48, horizon=12, epochs=20)
    model.fit(df, time_column="ds", target="y", id_column="unique_id")  # id: many series
    model.predict()                                  # the next 12 steps of every series
    model.historical_forecasts(df, start=0.8)        # forecasts made over the last 20%

It is the ``forecast`` task: the same windows, chronological split, scalers (per series with
an id column: one global model, each series scaled on its own, as NeuralForecast does), model
and run directory as ``rnnkit forecast train``. Results are DataFrames on timestamps, with the
id column and one column per target (``<target>_q<level>`` with quantiles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.data.timeseries import read_panel
from rnnkit.train import collect, predict_run

from .base import Estimator
from .inputs import frame_from


class Forecaster(Estimator):
    """Forecaster of the next ``horizon`` steps of one or many series (see the module docstring).

    Args:
        run_dir, verbose, **settings: see :class:`rnnkit.estimators.base.Estimator`
            (``lookback=``, ``horizon=``, ``target=`` and the other short forms of the command
            line work).
    """

    task_name = "forecast"

    def fit(
        self,
        df: pd.DataFrame | str | Path,
        time_column: str | None = None,
        target: str | list[str] | None = None,
        id_column: str | None = None,
    ) -> Forecaster:
        """Train on ``df`` (a DataFrame, or a CSV path); the column arguments override the
        ``data__time_column``, ``data__target`` and ``data__id_column`` settings."""
        frame = frame_from(df, "df")
        folder = self._new_run_dir()
        data = folder / "data" / "train.csv"
        data.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(data, index=False)
        overrides: dict[str, Any] = {"data.csv": str(data)}
        if time_column is not None:
            overrides["data.time_column"] = time_column
        if target is not None:
            overrides["data.target"] = [target] if isinstance(target, str) else list(target)
        if id_column is not None:
            overrides["data.id_column"] = id_column
        self._fit_run(self.config(**overrides), folder)
        return self

    def _input_file(self, df: pd.DataFrame | str | Path | None) -> Path:
        if df is None:
            return Path(self.run_.config.data.csv)
        if isinstance(df, (str, Path)):
            return Path(df)
        folder = self.path_ / "data"
        folder.mkdir(exist_ok=True)
        path = folder / "input.csv"
        frame_from(df, "df").to_csv(path, index=False)
        return path

    def predict(self, df: pd.DataFrame | str | Path | None = None) -> pd.DataFrame:
        """The ``horizon`` steps after the end of each series of ``df`` (default: the data
        ``fit`` was given): a frame on the future timestamps."""
        run = self.run_
        path = self._input_file(df)
        inputs = run.task.read_inputs(path, run.config, run.state)
        predictions = predict_run(run, inputs.source, progress=False)
        out = self.path_ / "data" / ".forecast.csv"
        run.task.write_predictions(out, predictions, inputs, run.context("input"))
        frame = pd.read_csv(out, index_col=0, parse_dates=True)
        out.unlink()
        return frame

    def historical_forecasts(
        self,
        df: pd.DataFrame | str | Path | None = None,
        start: float | str = 0.8,
        stride: int | None = None,
    ) -> pd.DataFrame:
        """Forecasts the model would have made from each origin after ``start`` (a share of each
        series, or a timestamp), every ``stride`` steps (default: the horizon), with the truth.

        Returns a long frame: (id,) ``origin``, the forecast's timestamp, ``step`` (1 … H), and
        per target the forecast and ``<target>_true``.
        """
        from rnnkit.tasks.forecast.panel import series_state
        from rnnkit.tasks.forecast.predict import prediction_windows

        run, state = self.run_, self.run_.state
        path = self._input_file(df)
        if "series" in state:
            panel = read_panel(path, state["id_column"], state["time_column"], state["observed"],
                               fill=run.config.data.fill, freq=state["freq"])  # fmt: skip
            named = {name: (series, series_state(state, name)) for name, series in panel.items()}
        else:
            series, _ = _read_one(run, path)
            named = {None: (series, state)}
        stride = stride or state["horizon"]
        frames = []
        for name, (series, own) in named.items():
            windows = prediction_windows(series, None, own)
            _, outputs = collect(run.task, run.model, windows, run.config.train.eval_batch_size)
            frames.append(_forecast_rows(outputs, series, own, start, stride, run, name))
        return pd.concat(frames, ignore_index=True)


def _read_one(run: Any, path: Path) -> tuple[Any, Any]:
    from rnnkit.tasks.forecast.predict import read_prediction_csv

    return read_prediction_csv(path, run.config, run.state)


def _forecast_rows(outputs, series, state, start, stride, run, name) -> pd.DataFrame:
    """The rows of :meth:`Forecaster.historical_forecasts` for one series."""
    from rnnkit.data.scaling import scaler_from_state

    L, H = state["lookback"], state["horizon"]
    origins = outputs["start"].numpy() + L - 1  # row of each window's last observed value
    if isinstance(start, str):
        first = int(np.searchsorted(series.index, pd.Timestamp(start)))
    else:
        first = int(round(start * len(series)))
    chosen = np.flatnonzero(origins >= first - 1)
    chosen = chosen[:: max(1, stride)]
    quantiles = run.config.model.quantiles
    pred = outputs["pred"].double().numpy()[chosen]
    point = pred[..., quantiles.index(0.5)] if quantiles else pred
    scaler = scaler_from_state(state["scaler"])
    point = scaler.inverse_transform(point, list(range(len(state["targets"]))))
    values = series.values(state["targets"])  # the truth, as the data holds it
    rows = []
    index = series.index
    for k, w in enumerate(chosen):
        o = int(origins[w])
        for h in range(H):
            row = {"origin": index[o], state["time_column"]: index[o + 1 + h], "step": h + 1}
            for c, target in enumerate(state["targets"]):
                row[target] = point[k, h, c]
                row[f"{target}_true"] = values[o + 1 + h, c]
            rows.append(row)
    frame = pd.DataFrame(rows)
    if name is not None:
        frame.insert(0, state["id_column"], name)
    return frame
