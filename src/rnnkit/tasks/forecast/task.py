"""The ``forecast`` task: configuration sections and the engine hooks.

    CSV / ETT file -> validated regular series -> chronological split -> scalers fitted on train
    -> windows (L past rows -> H future rows) -> Forecaster (rnnkit.nn encoder + direct /
    recursive / seq2seq decoder) -> report beside naive, seasonal naive, mean, ARIMA, ETS

Training, checkpoints and the run directory are the engine's (:func:`rnnkit.train.engine.fit`).
The data state saved beside every checkpoint holds the column roles, frequency and fitted
scalers, so ``evaluate`` and ``predict`` rebuild the exact scaling from the run alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from rnnkit.config import Section, option
from rnnkit.data.datasets import ett
from rnnkit.data.scaling import scaler_from_state
from rnnkit.data.timeseries import TimeSeries, from_frame, read_frame
from rnnkit.data.windows import WindowDataset
from rnnkit.nn import CellName
from rnnkit.train import Context, Inputs, OptimConfig, Step, Task, TaskData, TrainConfig

from . import metrics as fm
from .data import Prepared, known_features, load_series, prepare
from .model import Forecaster, pinball_loss, point_loss
from .report import BASELINES, build_report


@dataclass(frozen=True)
class ForecastData(Section):
    """Where the series comes from, its columns, split, scaling and windows."""

    csv: str = option("", "CSV file: a timestamp column and numeric value columns")
    ett: str = option("", "or an ETT data set (ETTh1, ETTh2, ETTm1, ETTm2), Informer split")
    data_dir: str | None = option(None, "data directory for --data.ett ($RNNKIT_DATA, else cache)")
    time_column: str = option("date", "name of the timestamp column")
    target: tuple[str, ...] = option((), "target column(s); mode M defaults to every column")
    covariates: tuple[str, ...] = option((), "past-observed covariates (M, MS: default all)")
    known: tuple[str, ...] = option((), "known-future covariate columns (e.g. a holiday flag)")
    calendar: bool = option(False, "add calendar features (hour, weekday...) as known-future")
    mode: Literal["S", "M", "MS"] = option("S", "S univariate, M all->all, MS all->target")
    freq: str = option("", "pandas frequency alias (h, 15min, D, MS...); inferred when empty")
    fill: Literal["error", "ffill", "interpolate"] = option("error", "policy for NaNs and gaps")
    lookback: int = option(96, "past steps a forecast sees (L)", low=1)
    horizon: int = option(24, "future steps forecast at once (H)", low=1)
    val: float = option(0.1, "validation share (< 1) or rows (>= 1) after train", low=0)
    test: float = option(0.2, "test share (< 1) or rows (>= 1) at the end", low=0)
    scaler: Literal["standard", "minmax", "none"] = option("standard", "fitted on train rows")
    train_stride: int = option(1, "take every k-th training window (faster epochs)", low=1)
    eval_stride: int = option(1, "every k-th validation/test window (1: all, the protocol)", low=1)


@dataclass(frozen=True)
class ForecastModel(Section):
    """The network: a recurrent encoder and a multi-step decoder."""

    cell: CellName = option("lstm", "recurrent cell (rnnkit.nn)")
    hidden_size: int = option(64, "hidden units per layer", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    dropout: float = option(0.0, "dropout between recurrent layers", low=0, high=1)
    strategy: Literal["direct", "recursive", "seq2seq"] = option("direct", "multi-step strategy")
    norm: Literal["none", "last", "mean"] = option("last", "per-window instance normalisation")
    quantiles: tuple[float, ...] = option((), "e.g. 0.1,0.5,0.9 for intervals (pinball loss)")
    loss: Literal["mse", "mae", "huber"] = option("mse", "point loss (without quantiles)")
    teacher_forcing: float = option(0.5, "seq2seq: chance of feeding the true value", low=0, high=1)
    channel_independent: bool = option(False, "mode M: one shared network per channel")


@dataclass(frozen=True)
class ForecastEval(Section):
    """The final test report: baselines, plots."""

    baselines: tuple[str, ...] = option(BASELINES, "baselines reported beside the model")
    arima_order: tuple[int, ...] = option((2, 1, 1), "ARIMA (p, d, q)", low=0)
    max_fit: int = option(2000, "ARIMA/ETS: fit on at most the last N training rows", low=10)
    plot_series: tuple[str, ...] = option((), "targets to plot (default: the first)")


@dataclass(frozen=True)
class ForecastConfig:
    """Time-series forecasting: any CSV or ETT, multi-step, beside classical baselines."""

    data: ForecastData = ForecastData()
    model: ForecastModel = ForecastModel()
    eval: ForecastEval = ForecastEval()
    optim: OptimConfig = OptimConfig(clip_norm=1.0)
    train: TrainConfig = TrainConfig(epochs=10, early_stopping=3)


class ForecastTask(Task[ForecastConfig]):
    """Hooks for :func:`rnnkit.train.engine.fit`; see the module docstring."""

    name = "forecast"
    config_class = ForecastConfig
    headline = ("mse", "mae")
    aliases = {
        "data": "data.csv",
        "csv": "data.csv",
        "ett": "data.ett",
        "target": "data.target",
        "mode": "data.mode",
        "lookback": "data.lookback",
        "horizon": "data.horizon",
        "strategy": "model.strategy",
    }

    # ------------------------------------------------------------------------------ data
    def load_data(self, config: ForecastConfig) -> TaskData:
        d = config.data
        prep = prepare_series(config)
        return TaskData(
            train=prep.dataset("train", d.train_stride),
            val=prep.dataset("val", d.eval_stride),
            test=prep.dataset("test", d.eval_stride),
            state=data_state(prep),
            extra=prep,
        )

    # ------------------------------------------------------------------------------ model
    def build_model(self, config: ForecastConfig, state: Mapping[str, Any]) -> Forecaster:
        m = config.model
        return Forecaster(
            n_observed=len(state["observed"]),
            n_targets=len(state["targets"]),
            horizon=config.data.horizon,
            n_known=state["n_known"],
            cell=m.cell,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            strategy=m.strategy,
            norm=m.norm,
            quantiles=m.quantiles,
            teacher_forcing=m.teacher_forcing,
            channel_independent=m.channel_independent,
            loss=m.loss,
        )

    def step(self, model: Forecaster, batch: dict[str, Tensor], state: Any = None) -> Step:
        """Training: the model's loss. Evaluation: the H-step forecast's loss and outputs.

        Windows without a complete future (the forecast-ahead window of a prediction input)
        are left out of the evaluation loss and outputs.
        """
        past, future, known = batch["past"], batch["future"], batch.get("known")
        if model.training:
            return Step(model.loss(past, future, known))
        y = model(past, known)  # (B, H, C_out[, Q]) scaled
        true = future[..., : y.shape[2]]
        labelled = torch.isfinite(true).flatten(1).all(dim=1)  # (B,)
        if not labelled.all():
            y, true = y[labelled], true[labelled]
            batch = {"start": batch["start"][labelled]}
        if len(y) == 0:
            return Step(past.new_zeros(()), weight=0.0)
        if model.quantiles:
            loss = pinball_loss(y, true, model.quantiles)
        else:
            loss = point_loss(y, true, model.loss_kind)
        return Step(loss, {"pred": y.detach(), "true": true, "start": batch["start"]})

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        """MSE and MAE on the scaled data (the ETT protocol); interval coverage with quantiles.

        On the test split of the prepared series (``fit``'s final evaluation and ``rnnkit
        forecast evaluate``) also the baselines, original-unit metrics and the skill against
        the naive forecast (see :func:`summary`).
        """
        if "pred" not in outputs:
            raise ValueError("forecast: no window with a complete future to evaluate")
        pred, true = outputs["pred"].double().numpy(), outputs["true"].double().numpy()
        quantiles = ctx.config.model.quantiles
        point = pred[..., quantiles.index(0.5)] if pred.ndim == 4 else pred
        out: dict[str, Any] = fm.scaled_metrics(point, true)
        if pred.ndim == 4:
            interval = fm.interval_metrics(pred, true, quantiles)
            out.update(coverage=interval["coverage"], interval_width=interval["width"])
        if _of_test_split(ctx):
            out.update(summary(test_report(outputs, ctx)))
        return out

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        """On the test split: ``forecast_test.json`` (per step, per fold) and the PNG plots."""
        if not _of_test_split(ctx) or ctx.run_dir is None:
            return
        full = test_report(outputs, ctx, plot_dir=ctx.run_dir)
        (Path(ctx.run_dir) / "forecast_test.json").write_text(json.dumps(full, indent=1) + "\n")

    # ------------------------------------------------------------------------------ predict
    def read_inputs(self, path: Path, config: ForecastConfig, state: Mapping[str, Any]) -> Inputs:
        """Every window of a CSV, scaled with the run's scalers, plus the forecast-ahead one.

        ``evaluate --data FILE`` scores the windows with a complete future; ``predict`` writes
        the forecast of the ``horizon`` steps after the file's last row. With CSV known-future
        columns, the file must end with ``horizon`` extra rows whose known columns are filled
        and whose other columns are empty.
        """
        series, future_known = read_prediction_csv(path, config, state)
        return Inputs(prediction_windows(series, future_known, state))

    def predict(self, model: Forecaster, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The forecast ahead: only the window whose whole future is unknown is run."""
        ahead = torch.isnan(batch["future"]).flatten(1).all(dim=1)  # (B,)
        known = batch.get("known")
        forecast = model(batch["past"][ahead], None if known is None else known[ahead])
        return {"forecast": forecast, "origin_ns": batch["origin_ns"][ahead]}

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        """A CSV of the forecast ahead: one row per step (timestamp), targets in original units."""
        if len(predictions["origin_ns"]) == 0:
            raise ValueError("forecast: the input had no window to forecast from")
        last = int(predictions["origin_ns"].argmax())
        forecast, origin = predictions["forecast"][last], predictions["origin_ns"][last]
        frame = forecast_frame(forecast, origin, ctx.state, ctx.config.model.quantiles)
        frame.to_csv(path)
        return len(frame)


# ---------------------------------------------------------------------------------- helpers
def prepare_series(config: ForecastConfig) -> Prepared:
    """The validated, split and scaled series (scalers fitted on the training rows)."""
    d = config.data
    series = load_series(
        csv=d.csv or None,
        ett_name=d.ett or None,
        data_dir=d.data_dir,
        time_column=d.time_column,
        freq=d.freq or None,
        fill=d.fill,
    )
    split = ett.informer_split(d.ett) if d.ett else None
    targets = d.target or ((ett.TARGET,) if d.ett and d.mode != "M" else ())
    return prepare(
        series,
        mode=d.mode,
        targets=targets,
        covariates=d.covariates,
        known=d.known,
        calendar=d.calendar,
        lookback=d.lookback,
        horizon=d.horizon,
        split=split,
        val=_share(d.val),
        test=_share(d.test),
        scaler=d.scaler,
    )


def _of_test_split(ctx: Context) -> bool:
    """True when the outputs are the test windows of the prepared series (not a user's file)."""
    return ctx.split == "test" and ctx.data is not None and ctx.data.extra is not None


def test_report(outputs: dict[str, Tensor], ctx: Context, plot_dir: Path | None = None) -> dict:
    """The full report of the test outputs of :meth:`ForecastTask.step` (:func:`build_report`)."""
    prep, e = ctx.data.extra, ctx.config.eval
    origins = outputs["start"].numpy() + prep.lookback - 1
    return build_report(
        prep,
        outputs["pred"].double().numpy(),
        ctx.config.model.quantiles,
        origins,
        baselines=e.baselines,
        arima_order=tuple(e.arima_order),
        max_fit=e.max_fit,
        plot_dir=plot_dir,
        plot_series=e.plot_series,
    )


def _share(value: float) -> float | int:
    """A share below 1, else a row count."""
    return value if value < 1 else int(value)


def data_state(prep: Prepared) -> dict[str, Any]:
    """The JSON-ready state a checkpoint needs to scale new data and label forecasts."""
    return {
        "source": prep.series.source,
        "repairs": list(prep.series.repairs),
        "time_column": str(prep.series.index.name),
        "freq": prep.series.freq,
        "targets": list(prep.columns.targets),
        "observed": list(prep.columns.observed),
        "known": list(prep.columns.known),
        "calendar": prep.calendar,
        "n_known": int(prep.z_known.shape[1]),
        "lookback": prep.lookback,
        "horizon": prep.horizon,
        "season": prep.season,
        "scaler": prep.scaler.state_dict(),
        "known_scaler": prep.known_scaler.state_dict(),
        "split": {"train": prep.split.train, "val": prep.split.val, "test": prep.split.test},
    }


def summary(report: dict) -> dict[str, Any]:
    """The compact part of a report that goes into ``metrics.json``."""
    out: dict[str, Any] = {
        "original": report["original"]["model"],
        "baselines": {
            name: {**report["scaled"][name], "original": report["original"][name]}
            for name in report["scaled"]
            if name != "model"
        },
    }
    for key in ("skill_vs_naive", "interval", "skipped_baselines"):
        if key in report:
            out[key] = report[key]
    return out


def read_prediction_csv(
    path: Path, config: ForecastConfig, state: Mapping[str, Any]
) -> tuple[TimeSeries, pd.DataFrame | None]:
    """The observed history of a prediction input, and the future rows of known columns."""
    known, H = state["known"], state["horizon"]
    frame, lines = read_frame(path, state["time_column"], state["observed"] + known)
    future = None
    if known:
        tail = frame.iloc[-H:]
        if len(frame) <= H or tail[state["observed"]].notna().any().any():
            raise ValueError(
                f"{path}: with known-future columns {known}, the file must end with {H} rows "
                f"whose known columns are filled and whose other columns are empty"
            )
        missing = np.flatnonzero(tail[known].isna().any(axis=1).to_numpy())
        if len(missing):
            raise ValueError(
                f"{path}: known-future columns {known} are empty in the forecast row at line "
                f"{len(frame) - H + missing[0] + 2}"
            )
        frame, future, lines = frame.iloc[:-H], tail[known], lines[:-H]
    hint = (
        f"the run was trained with data.fill {config.data.fill!r}: complete the file, or train "
        f"with --data.fill ffill or interpolate"
    )
    series = from_frame(
        frame, freq=state["freq"], fill=config.data.fill, source=str(path), lines=lines, hint=hint
    )
    return series, future


def prediction_windows(
    series: TimeSeries, future_known: pd.DataFrame | None, state: Mapping[str, Any]
) -> WindowDataset:
    """All windows of ``series`` scaled with the saved scalers, ending with the one whose past
    is the last ``lookback`` rows (its future is unknown: NaN). Batches carry ``origin_ns``."""
    L, H, freq = state["lookback"], state["horizon"], state["freq"]
    if len(series) < L:
        raise ValueError(f"{series.source} has {len(series)} rows; the model needs lookback = {L}")
    obs = scaler_from_state(state["scaler"]).transform(series.values(state["observed"]))
    future_index = pd.date_range(series.index[-1], periods=H + 1, freq=freq)[1:]
    index = series.index.append(future_index)  # (T + H,)
    obs = np.concatenate([obs, np.full((H, obs.shape[1]), np.nan)])  # future unknown
    known = None
    if state["n_known"]:
        csv_known = None
        if state["known"]:
            future = future_known.set_axis(future_index)
            csv_known = pd.concat([series.frame[state["known"]], future])
        frame = known_features(index, freq, csv_known, state["calendar"])
        known = scaler_from_state(state["known_scaler"]).transform(frame.to_numpy())
    inputs = obs if known is None else np.concatenate([obs, known], axis=1)
    times_ns = index.as_unit("ns").asi8
    return _WithOrigins(WindowDataset(inputs, obs, L, H, 1, known, source=series.source), times_ns)


class _WithOrigins:
    """Batches of a :class:`WindowDataset` plus ``origin_ns``: the last observed timestamp."""

    def __init__(self, windows: WindowDataset, times_ns: np.ndarray) -> None:
        self.windows = windows
        self.times_ns = torch.as_tensor(times_ns)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index) -> dict[str, Tensor]:
        batch = self.windows[index]
        batch["origin_ns"] = self.times_ns[batch["start"] + self.windows.lookback - 1]
        return batch


def forecast_frame(
    forecast: Tensor, origin_ns: Tensor, state: Mapping[str, Any], quantiles: tuple[float, ...] = ()
) -> pd.DataFrame:
    """(H, C_out[, Q]) scaled forecast -> frame on the future timestamps, original units.

    Columns: one per target, plus ``<target>_q<level>`` per quantile.
    """
    H = state["horizon"]
    origin = pd.Timestamp(int(origin_ns))
    index = pd.date_range(origin, periods=H + 1, freq=state["freq"])[1:]
    index.name = state["time_column"]
    scaler = scaler_from_state(state["scaler"])
    targets = state["targets"]
    channels = list(range(len(targets)))
    y = forecast.double().numpy()
    columns: dict[str, np.ndarray] = {}
    point = y[..., quantiles.index(0.5)] if quantiles else y
    point = scaler.inverse_transform(point, channels)
    for c, name in enumerate(targets):
        columns[name] = point[:, c]
    for j, q in enumerate(quantiles):
        level = scaler.inverse_transform(y[..., j], channels)
        for c, name in enumerate(targets):
            columns[f"{name}_q{q:g}"] = level[:, c]
    return pd.DataFrame(columns, index=index)


TASK = ForecastTask()
