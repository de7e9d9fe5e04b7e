"""``anomaly``: the hooks that train a detector's network through ``rnnkit.train`` and calibrate it.

The records ``0 … train_rows − 1`` (default: NAB's probationary period, 15% and at most 750) are
all a detector ever learns from (:func:`split_rows`). Their first ``1 − calibration`` share
trains the network (the engine's train split) and their last ``calibration`` share is the
engine's validation split: it picks the best epoch, and its scores — from a network that never
trained on them — fit the threshold in :meth:`AnomalyTask.calibrate`, which the engine calls
with the best epoch's outputs. The scikit-learn detectors are fitted there too, on the training
windows' encoder features. Threshold, calibration scores and features are task state, saved
with the best checkpoint; :func:`load_detector` rebuilds the whole detector from a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.config import ConfigError
from rnnkit.data import TensorBatches, chronological_split
from rnnkit.data.datasets.nab import probation_length
from rnnkit.data.scaling import StandardScaler
from rnnkit.data.timeseries import TimeSeries, read_series
from rnnkit.data.windows import centered_windows
from rnnkit.train import CheckpointError, Context, Step, Task, TaskData, load_run

from .config import FEATURE_METHODS, AnomalyConfig, AnomalyData, DetectorModel
from .detector import Detector
from .models import EnsembleNetwork, WindowAutoencoder, build_network
from .scoring import (
    ensemble_scores,
    estimator_scores,
    fit_estimator,
    forecast_errors,
    forecast_record_scores,
    log_robust_stats,
    reconstruction_errors,
)
from .smoothing import smooth


class AnomalyTask(Task[AnomalyConfig]):
    """Windowed recurrent anomaly detectors (see :mod:`rnnkit.tasks.anomaly`)."""

    name = "anomaly"
    config_class = AnomalyConfig
    actions = ("train", "tune", "config")  # `detect` and `evaluate` are the task's own
    action_aliases = {"fit": "train"}
    headline = ("loss",)
    aliases = {"data": "data.path", "method": "model.method", "labels": "data.labels"}
    search_space = {
        "optim.lr": {"low": 1e-3, "high": 1e-2, "log": True},
        "model.hidden_size": [16, 32, 64],
        "model.window": [16, 32, 64],
    }

    def load_data(self, config: AnomalyConfig) -> TaskData:
        d, m = config.data, config.model
        if not d.path:
            raise ConfigError("data.path is empty: give the CSV of the series (--data FILE.csv)")
        if m.method in FEATURE_METHODS and not config.train.eval_train:
            raise ConfigError(
                f"model.method={m.method} needs train.eval_train=true "
                "(it fits on the training features)"
            )
        series = read_data(d)
        train_rows, fit_rows = split_rows(series, d, m)
        values = series.values()
        scaler = StandardScaler().fit(values[:fit_rows])
        x = scaler.transform(values[:train_rows]).astype(np.float32)
        L, P = m.window, m.horizon
        if m.forecasts:
            w = torch.from_numpy(centered_windows(x, L + P))
            first = torch.arange(len(w)) + L  # the first forecast record of each window
            parts = (first + P - 1 < fit_rows, first + P - 1 >= fit_rows)  # calibration: last
            batches = [
                TensorBatches({"x": w[s, :L], "y": w[s, L:], "record": first[s]}, time_keys=())
                for s in parts
            ]
        else:
            w = torch.from_numpy(centered_windows(x, L, center=m.center_mode))
            last = torch.arange(len(w)) + L - 1  # the record each window scores
            batches = [
                TensorBatches({"x": w[s], "record": last[s]}, time_keys=())
                for s in (last < fit_rows, last >= fit_rows)
            ]
        state = {
            "columns": list(series.columns),
            "scaler": scaler.state_dict(),
            "source": series.source,
            "records": len(series),
            "train_rows": train_rows,
            "fit_rows": fit_rows,
        }
        return TaskData(train=batches[0], val=batches[1], test=None, state=state)

    def build_model(self, config: AnomalyConfig, state: Mapping[str, Any]) -> nn.Module:
        return build_network(config.model, len(state["columns"]))

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        x = batch["x"]
        if isinstance(model, EnsembleNetwork):
            return ensemble_step(model, batch)
        if isinstance(model, WindowAutoencoder):
            x_hat, z = model.reconstruct(x)
            errors = reconstruction_errors(x_hat, x)  # (N,)
            loss = errors.mean()
            outputs = {"error": errors.detach(), "record": batch["record"]}
            if not model.training:  # the encoder features the scikit-learn detectors fit on
                outputs["z"] = z.detach()
            return Step(loss, outputs)
        pred = model(x)  # (N, P, C)
        errors = forecast_errors(pred, batch["y"])  # (N, P)
        loss = (pred - batch["y"]).pow(2).mean()
        return Step(loss, {"error": errors.detach(), "record": batch["record"]})

    def calibrate(self, outputs: dict[str, dict[str, Tensor]], ctx: Context) -> dict[str, Any]:
        """Fit the scikit-learn model (train split) and the threshold (validation split)."""
        config, state = ctx.config, ctx.state
        m, found = config.model, {}
        val = outputs["validation"]
        order = torch.argsort(val["record"])
        records = val["record"][order].numpy()
        errors = val["error"][order].double().numpy()
        if m.method == "ensemble":
            parts = ensemble_parts(val, order, m.horizon, state["train_rows"])[state["fit_rows"] :]
            stats = [log_robust_stats(parts[:, k]) for k in range(parts.shape[1])]
            raw = ensemble_scores(parts, stats)
            found["normalisers"] = [list(pair) for pair in stats]
        elif m.method == "forecast":
            raw = forecast_record_scores(errors, records, state["train_rows"])
            raw = raw[state["fit_rows"] :]
        elif m.method == "autoencoder":
            raw = errors
        else:
            train = outputs["train"]
            features = train["z"][torch.argsort(train["record"])].double().numpy()
            estimator = fit_estimator(m.method, features, m.nu, m.n_estimators, config.train.seed)
            raw = estimator_scores(estimator, val["z"][order].double().numpy())
            found["features"] = features.tolist()
        rule = config.detect
        threshold = rule.make_threshold(state["train_rows"], m.window)
        threshold = threshold.fit(smooth(raw, rule.smoothing))
        return {**found, "threshold": threshold.to_dict(), "calibration_scores": raw.tolist()}


TASK = AnomalyTask()


def ensemble_step(model: EnsembleNetwork, batch: dict[str, Tensor]) -> Step:
    """Both networks on the same windows of L + P records: the forecaster reads the first L and
    predicts the last P; the autoencoder reconstructs the last L (its score belongs to the
    window's last record). The loss is the sum of their mean squared errors."""
    x, y = batch["x"], batch["y"]  # (N, L, C), (N, P, C)
    pred = model.forecaster(x)
    L = x.shape[1]
    window = torch.cat([x, y], dim=1)[:, -L:]  # (N, L, C)
    if model.center:
        window = window - window.mean(dim=1, keepdim=True)
    x_hat, _ = model.autoencoder.reconstruct(window)
    ae_errors = reconstruction_errors(x_hat, window)  # (N,)
    loss = (pred - y).pow(2).mean() + ae_errors.mean()
    outputs = {
        "error": forecast_errors(pred, y).detach(),  # (N, P)
        "ae_error": ae_errors.detach(),
        "record": batch["record"],  # the first forecast record
    }
    return Step(loss, outputs)


def ensemble_parts(outputs: dict[str, Tensor], order: Tensor, horizon: int, length: int):
    """(length, 2) errors per record from an ensemble's outputs: the forecasts' (averaged over the
    windows that forecast the record) and the autoencoder's (of the window ending there)."""
    records = outputs["record"][order].numpy()
    forecast = forecast_record_scores(outputs["error"][order].double().numpy(), records, length)
    ae = np.full(length, np.nan)
    ae[records + horizon - 1] = outputs["ae_error"][order].double().numpy()
    return np.stack([forecast, ae], axis=1)


def read_data(d: AnomalyData, path: str | Path | None = None) -> TimeSeries:
    """The series at ``path`` (default ``d.path``), read with the settings of ``d``."""
    columns = [c.strip() for c in d.value_columns.split(",") if c.strip()] or None
    return read_series(
        path or d.path,
        d.timestamp_column or None,
        columns,
        order=d.order,
        duplicates=d.duplicates,
        fill=d.fill,
    )


def split_rows(series: TimeSeries, d: AnomalyData, m: DetectorModel) -> tuple[int, int]:
    """(train_rows, fit_rows): the records learnt from, and those of them the network trains on.

    Raises a ValueError naming the file and columns when the series is too short or constant.
    """
    train_rows = d.train_rows or probation_length(len(series), d.train_fraction)
    if train_rows > len(series):
        raise ValueError(
            f"{series.source}: data.train_rows={train_rows} exceeds the {len(series)} records"
        )
    try:
        fit_rows = chronological_split(train_rows, d.calibration, 0).train[1]
    except ValueError:  # too few records for any split: refused below with the sizes
        fit_rows = 0
    need_fit = m.window + m.horizon + 16  # a few dozen windows at least
    need_calibration = 10
    if fit_rows < need_fit or train_rows - fit_rows < need_calibration:
        needed = max(
            math.ceil(need_fit / (1 - d.calibration)), math.ceil(need_calibration / d.calibration)
        )
        raise ValueError(
            f"{series.source}: column(s) {series.column_text}: the series is too short: "
            f"{len(series)} records give {train_rows} training records ({fit_rows} to fit, "
            f"{train_rows - fit_rows} to calibrate), but model.window={m.window} with "
            f"data.calibration={d.calibration} needs at least {needed} training records"
        )
    head = series.values()[:fit_rows]
    spread = head.max(axis=0) - head.min(axis=0)
    for c, column in enumerate(series.columns):
        if not math.isfinite(spread[c]) or spread[c] == 0:
            raise ValueError(
                f"{series.source}: column {column!r} is constant ({head[0, c]:g}) over the "
                f"{fit_rows} training records; there is nothing to learn a scale or pattern from"
            )
    return train_rows, fit_rows


def load_detector(run: str | Path, prefer: str = "best") -> Detector:
    """The detector a run directory of ``rnnkit anomaly train`` holds."""
    loaded = load_run(TASK, run, prefer=prefer)
    if "threshold" not in loaded.state:
        raise CheckpointError(
            f"{loaded.checkpoint.path}: this checkpoint holds no calibrated threshold (only the "
            f"best checkpoint of a finished run does); use --checkpoint best"
        )
    return Detector.from_state(loaded.model, loaded.config, loaded.state)


def fit_detector(config: AnomalyConfig, out: str | Path | None = None) -> Detector:
    """Train a detector with the engine (``rnnkit.train.fit``) and load it from its run."""
    from rnnkit.train import fit  # imports Lightning

    result = fit(TASK, config, out)
    return load_detector(result.run_dir)
