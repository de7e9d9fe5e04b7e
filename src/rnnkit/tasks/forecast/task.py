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
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from rnnkit.config import ConfigError
from rnnkit.data import DataError
from rnnkit.data.datasets import ett
from rnnkit.data.timeseries import read_panel
from rnnkit.train import Context, Inputs, Step, Task, TaskData

from . import metrics as fm
from .config import ForecastConfig
from .data import Prepared, load_series, prepare
from .model import Forecaster, pinball_loss, point_loss
from .panel import ConcatWindows, Panel, panel_state, series_state
from .predict import forecast_frame, prediction_windows, read_prediction_csv
from .report import build_report


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
        if isinstance(prep, Panel):
            state = {**panel_state(prep, data_state), "id_column": d.id_column}
        else:
            state = data_state(prep)
        return TaskData(
            train=prep.dataset("train", d.train_stride),
            val=prep.dataset("val", d.eval_stride),
            test=prep.dataset("test", d.eval_stride),
            state=state,
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
            lookback=config.data.lookback,
            segment_length=m.segment_length,
            head_dropout=m.head_dropout,
            linear_skip=m.linear_skip,
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
        if "series" not in state:
            series, future_known = read_prediction_csv(path, config, state)
            return Inputs(prediction_windows(series, future_known, state))
        d = config.data
        panel = read_panel(path, state["id_column"], state["time_column"], state["observed"],
                           fill=d.fill, freq=state["freq"])  # fmt: skip
        unknown = [name for name in panel if name not in state["series"]]
        if unknown:
            raise DataError(
                f"{path}: series {unknown[:3]} (column {state['id_column']!r}) were not among the "
                f"series the model was trained on; it scales each series with its own statistics"
            )
        windows = [prediction_windows(s, None, series_state(state, n)) for n, s in panel.items()]
        return Inputs(ConcatWindows(windows), names=list(panel))

    def predict(self, model: Forecaster, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The forecast ahead: only the window whose whole future is unknown is run."""
        ahead = torch.isnan(batch["future"]).flatten(1).all(dim=1)  # (B,)
        known = batch.get("known")
        forecast = model(batch["past"][ahead], None if known is None else known[ahead])
        out = {"forecast": forecast, "origin_ns": batch["origin_ns"][ahead]}
        if "series" in batch:
            out["series"] = batch["series"][ahead]
        return out

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        """A CSV of the forecast ahead: one row per step (timestamp), targets in original units."""
        if len(predictions["origin_ns"]) == 0:
            raise ValueError("forecast: the input had no window to forecast from")
        quantiles = ctx.config.model.quantiles
        if "series" not in predictions:
            last = int(predictions["origin_ns"].argmax())
            forecast, origin = predictions["forecast"][last], predictions["origin_ns"][last]
            frame = forecast_frame(forecast, origin, ctx.state, quantiles)
        else:
            frames = []
            for s, name in enumerate(inputs.names):
                rows = torch.nonzero(predictions["series"] == s).flatten()
                last = int(rows[predictions["origin_ns"][rows].argmax()])
                forecast, origin = predictions["forecast"][last], predictions["origin_ns"][last]
                state = series_state(ctx.state, name)
                one = forecast_frame(forecast, origin, state, quantiles)
                frames.append(one.assign(**{ctx.state["id_column"]: name}))
            frame = pd.concat(frames)
            frame = frame[[ctx.state["id_column"], *frame.columns[:-1]]]
        frame.to_csv(path)
        return len(frame)


# ---------------------------------------------------------------------------------- helpers
def prepare_series(config: ForecastConfig) -> Prepared | Panel:
    """The validated, split and scaled series (scalers fitted on the training rows); with
    ``data.id_column``, every series of the file, each on its own (a :class:`Panel`)."""
    d = config.data
    options = dict(
        mode=d.mode,
        covariates=d.covariates,
        known=d.known,
        calendar=d.calendar,
        lookback=d.lookback,
        horizon=d.horizon,
        val=_share(d.val),
        test=_share(d.test),
        scaler=d.scaler,
    )
    if d.id_column:
        if d.ett or not d.csv:
            raise ConfigError("data.id_column reads a long-format CSV: give --data.csv FILE")
        if d.known:
            raise ConfigError("data.known (CSV known-future columns) needs a single series")
        panel = read_panel(d.csv, d.id_column, d.time_column, fill=d.fill, freq=d.freq or None)
        return Panel({name: prepare(s, targets=d.target, **options) for name, s in panel.items()})
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
    return prepare(series, targets=targets, split=split, **options)


def _of_test_split(ctx: Context) -> bool:
    """True when the outputs are the test windows of one prepared series (not a user's file,
    not a panel: the baselines' report is per series)."""
    return ctx.split == "test" and ctx.data is not None and isinstance(ctx.data.extra, Prepared)


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


TASK = ForecastTask()
