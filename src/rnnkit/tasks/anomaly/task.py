"""``anomaly``: the task that trains detectors through ``rnnkit.train``, and its CLI actions.

``rnnkit anomaly train --data FILE.csv [--model.method autoencoder|forecast|ocsvm|iforest]``
(the issue's ``fit``) trains the network on the first records of the series and writes a run
directory; ``detect`` scores a CSV with a saved run and writes scores and flags; ``evaluate``
scores a labelled series (NAB-style events, precision/recall/F1, NAB score).

The records ``0 … train_rows − 1`` (default: NAB's probationary period, 15% and at most 750) are
all a detector ever learns from. Their first ``1 − calibration`` share trains the network (the
engine's train split) and their last ``calibration`` share is the engine's validation split:
it picks the best epoch, and its scores — from a network that never trained on them — fit the
threshold. The scikit-learn detectors fit their model on the training windows' encoder features.
Both happen in :meth:`AnomalyTask.report`, which the engine calls with the best epoch's outputs;
they are saved as ``detector.json`` (threshold) and ``features.safetensors`` in the run directory.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import typer
from safetensors.torch import load_file
from torch import Tensor, nn

from rnnkit.config import ConfigError, Section, from_dict, option
from rnnkit.data import TensorBatches
from rnnkit.data.timeseries import StandardScaler
from rnnkit.train import OptimConfig, Step, Task, TaskData, TrainConfig
from rnnkit.train.rundir import write_json

from . import detectors as det
from .data import Series, check_trainable, read_series, read_windows
from .models import Forecaster, WindowAutoencoder
from .nab import probation_length, score_file, summarise
from .thresholds import make_threshold, smooth


# ------------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class AnomalyData(Section):
    """The series to learn from: a CSV with a timestamp column and numeric value columns."""

    path: str = option("", "CSV file of the series (NAB's timestamp,value format works as is)")
    timestamp_column: str = option(
        "", "timestamp column ('': 'timestamp' if present, else the first)"
    )
    value_columns: str = option("", "comma-separated value columns ('': every other column)")
    order: Literal["error", "keep", "sort"] = option(
        "error", "timestamps that step back: refuse, keep the file's order (NAB), or sort"
    )
    train_rows: int = option(
        0, "records to learn from (0: train_fraction of the series, at most 750, as NAB)", low=0
    )
    train_fraction: float = option(
        0.15,
        "share learnt from when train_rows is 0 (NAB's probationary period)",
        low=0,
        low_open=True,
        high=0.99,
    )
    calibration: float = option(
        0.3,
        "share of the training records held out to fit the threshold",
        low=0,
        low_open=True,
        high=0.9,
    )
    labels: str = option("", "label file for evaluate: NAB JSON (windows or timestamps) or CSV")
    label_key: str = option(
        "", "the series' key in a JSON label file ('': folder/file.csv or file.csv)"
    )


@dataclass(frozen=True)
class DetectorModel(Section):
    """The detector: its network, window and scikit-learn model."""

    method: Literal["autoencoder", "forecast", "ocsvm", "iforest"] = option(
        "autoencoder", "detector"
    )
    cell: Literal["default", "lstm", "gru", "rnn"] = option(
        "default", "recurrent layer (default: lstm, lstm, gru, rnn for the methods in that order)"
    )
    window: int = option(32, "L: records per window", low=2)
    hidden_size: int = option(32, "H: hidden units", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    horizon: int = option(1, "P: records the forecaster predicts (forecast)", low=1)
    center: bool = option(
        False, "subtract each window's level (mean; forecast: last input) before the network"
    )
    nu: float = option(
        0.01,
        "One-Class SVM's bound on the training outlier share (ocsvm)",
        low=0,
        low_open=True,
        high=1,
    )
    n_estimators: int = option(100, "Isolation Forest's trees (iforest)", low=1)

    @property
    def rnn_cell(self) -> str:
        return det.DEFAULT_CELLS[self.method] if self.cell == "default" else self.cell


@dataclass(frozen=True)
class DetectRule(Section):
    """How scores become detections: smoothing, threshold, events."""

    smoothing: int = option(1, "EWMA span of the scores (1: none)", low=1)
    threshold: Literal["quantile", "sigma", "dynamic", "likelihood"] = option(
        "dynamic",
        "quantile of calibration scores, mean + k·std, Hundman et al.'s dynamic threshold, or "
        "Ahmad et al.'s anomaly likelihood",
    )
    q: float = option(0.99, "quantile (threshold=quantile)", low=0, low_open=True, high=1)
    k: float = option(4.0, "standard deviations above the mean (threshold=sigma)", low=0)
    margin: float = option(
        1.5, "the threshold is multiplied by this (quantile, sigma, dynamic)", low=0, low_open=True
    )
    history: int = option(3000, "scores the dynamic and likelihood thresholds look back on", low=10)
    step: int = option(100, "records between updates of the dynamic threshold", low=1)
    p: float = option(
        0.13,
        "dynamic threshold's pruning: a flag must beat the largest normal score by this share",
        low=0,
        high=1,
    )
    skip_flagged: bool = option(False, "dynamic threshold: leave flagged scores out of its history")
    short: int = option(10, "likelihood threshold: records in the short-term mean", low=1)
    epsilon: float = option(
        1e-5, "likelihood threshold: flag when the tail probability is below this", low=0,
        low_open=True, high=0.5,
    )  # fmt: skip
    min_gap: int = option(200, "flags closer than this many records form one event", low=1)

    def make_threshold(self):
        if self.threshold == "quantile":
            return make_threshold("quantile", q=self.q, margin=self.margin)
        if self.threshold == "sigma":
            return make_threshold("sigma", k=self.k, margin=self.margin)
        if self.threshold == "likelihood":
            return make_threshold(
                "likelihood", history=self.history, short=self.short, epsilon=self.epsilon
            )
        return make_threshold(
            "dynamic", history=self.history, step=self.step, p=self.p, margin=self.margin,
            skip_flagged=self.skip_flagged,
        )  # fmt: skip


@dataclass(frozen=True)
class AnomalyConfig:
    """Time-series anomaly detection: a recurrent detector trained on a series' first records."""

    data: AnomalyData = AnomalyData()
    model: DetectorModel = DetectorModel()
    detect: DetectRule = DetectRule()
    optim: OptimConfig = OptimConfig(lr=3e-3, clip_norm=1.0)
    # one thread: for models this small, a second one costs more than it gains
    train: TrainConfig = TrainConfig(epochs=30, batch_size=64, threads=1, early_stopping=0)


# --------------------------------------------------------------------------------------- task
class AnomalyTask(Task[AnomalyConfig]):
    """Windowed recurrent anomaly detectors (see :mod:`rnnkit.tasks.anomaly`)."""

    name = "anomaly"
    config_class = AnomalyConfig
    aliases = {"data": "data.path", "method": "model.method", "labels": "data.labels"}
    train_aliases = ("fit",)  # `rnnkit anomaly fit`: the name for train
    search_space = {
        "optim.lr": {"low": 1e-3, "high": 1e-2, "log": True},
        "model.hidden_size": [16, 32, 64],
        "model.window": [16, 32, 64],
    }

    def load_data(self, config: AnomalyConfig) -> TaskData:
        d, m = config.data, config.model
        if not d.path:
            raise ConfigError("data.path is empty: give the CSV of the series (--data FILE.csv)")
        if m.method in det.FEATURE_METHODS and not config.train.eval_train:
            raise ConfigError(
                f"model.method={m.method} needs train.eval_train=true "
                "(it fits on the training features)"
            )
        series = read_series(
            d.path, d.timestamp_column or None, _columns(d.value_columns), order=d.order
        )
        train_rows, fit_rows = split_rows(series, d, m)
        scaler = StandardScaler().fit(series.values[:fit_rows])
        x = scaler.transform(series.values[:train_rows]).astype(np.float32)
        L, P = m.window, m.horizon
        center = det._center(m)
        if m.method == "forecast":
            w = torch.from_numpy(det.scaled_windows(x, L + P, center=center, lookback=L))
            first = torch.arange(len(w)) + L  # the first forecast record of each window
            train = first + P - 1 < fit_rows
            val = first + P - 1 >= fit_rows  # windows forecasting a calibration record
            batches = [
                TensorBatches({"x": w[s, :L], "y": w[s, L:], "record": first[s]}, time_keys=())
                for s in (train, val)
            ]
        else:
            w = torch.from_numpy(det.scaled_windows(x, L, center=center))
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

    def build_model(self, config: AnomalyConfig, state: dict[str, Any]) -> nn.Module:
        m = config.model
        C = len(state["columns"])
        if m.method == "forecast":
            return Forecaster(m.rnn_cell, C, m.hidden_size, m.num_layers, m.horizon)
        model = WindowAutoencoder(m.rnn_cell, C, m.hidden_size, m.num_layers)
        model.keep_features = m.method in det.FEATURE_METHODS  # report needs encoder features
        return model

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        x = batch["x"]
        if isinstance(model, Forecaster):
            errors = det.window_errors(model, "forecast", x, batch["y"])  # (N, P)
            loss = (model(x) - batch["y"]).pow(2).mean()
        else:
            errors = det.window_errors(model, "autoencoder", x, x)  # (N,)
            loss = errors.mean()
        outputs = {"error": errors.detach(), "record": batch["record"]}
        if not model.training and getattr(model, "keep_features", False):
            outputs["z"] = model.encode(x).detach()
        return Step(loss, outputs)

    def report(
        self,
        run_dir: Path,
        split: str,
        outputs: dict[str, Tensor],
        metrics: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        """Fit the scikit-learn model (train split) and the threshold (validation split)."""
        config = from_dict(AnomalyConfig, json.loads((run_dir / "config.json").read_text()))
        m, order = config.model, torch.argsort(outputs["record"])
        if split == "train" and m.method in det.FEATURE_METHODS:
            features = outputs["z"][order].double()
            det.write_atomic_tensors(run_dir / det.FEATURES_FILE, {"features": features})
        if split != "validation":
            return
        records = outputs["record"][order].numpy()
        errors = outputs["error"][order].double().numpy()
        fit_rows, train_rows = state["fit_rows"], state["train_rows"]
        if m.method == "forecast":
            raw = det.forecast_record_scores(errors, records, train_rows)[fit_rows:]
        elif m.method == "autoencoder":
            raw = errors
        else:
            features = load_file(str(run_dir / det.FEATURES_FILE))["features"].numpy()
            estimator = det.fit_estimator(
                m.method, features, m.nu, m.n_estimators, config.train.seed
            )
            raw = det.estimator_scores(estimator, outputs["z"][order].double().numpy())
        scores = smooth(raw, config.detect.smoothing)
        threshold = config.detect.make_threshold().fit(scores)
        write_json(
            run_dir / det.DETECTOR_FILE,
            {
                "threshold": threshold.to_dict(),
                "calibration": {"first_record": fit_rows, "raw_scores": raw.tolist()},
                "train_rows": train_rows,
                "fit_rows": fit_rows,
            },
        )

    def read_inputs(self, path: Path, config: AnomalyConfig, state: dict[str, Any]) -> Any:
        raise ValueError(
            "rnnkit anomaly scores series with `detect` (and `evaluate`), not `predict`"
        )


def _columns(text: str) -> list[str] | None:
    names = [c.strip() for c in text.split(",") if c.strip()]
    return names or None


def split_rows(series: Series, d: AnomalyData, m: DetectorModel) -> tuple[int, int]:
    """(train_rows, fit_rows): the records learnt from, and those of them the network trains on.

    Raises a ValueError naming the file and columns when the series is too short or constant.
    """
    train_rows = d.train_rows or probation_length(len(series), d.train_fraction)
    if train_rows > len(series):
        raise ValueError(
            f"{series.source}: data.train_rows={train_rows} exceeds the {len(series)} records"
        )
    fit_rows = int(round(train_rows * (1.0 - d.calibration)))
    need_fit = m.window + m.horizon + 16  # a few dozen windows at least
    need_calibration = 10
    what = f"model.window={m.window} with data.calibration={d.calibration}"
    if fit_rows < need_fit or train_rows - fit_rows < need_calibration:
        needed = max(
            int(np.ceil(need_fit / (1 - d.calibration))),
            int(np.ceil(need_calibration / d.calibration)),
        )
        raise ValueError(
            f"{series.source}: column(s) {series.column_text}: the series is too short: "
            f"{len(series)} records give {train_rows} training records ({fit_rows} to fit, "
            f"{train_rows - fit_rows} to calibrate), but {what} needs at least {needed} "
            f"training records"
        )
    check_trainable(series, fit_rows, need_fit, what)
    return train_rows, fit_rows


def fit_detector(config: AnomalyConfig, out: str | Path | None = None) -> det.Detector:
    """Train a detector with the engine (``rnnkit.train.fit``) and load it from its run."""
    from rnnkit.train import fit  # imports Lightning

    result = fit(TASK, config, out)
    return det.Detector.from_run(result.run_dir)


def read_run_series(run: Path, path: Path | None, detector: det.Detector) -> Series:
    """A CSV read the way the run's training file was (its columns and timestamp settings)."""
    d = detector.config.data
    return read_series(
        path or d.path, d.timestamp_column or None, list(detector.columns), order=d.order
    )


# -------------------------------------------------------------------------------- CLI actions
RunOpt = Annotated[
    Path, typer.Option("--run", help="run directory written by `rnnkit anomaly train`")
]


def detect_command(
    run: RunOpt,
    input: Annotated[Path, typer.Option("--input", help="CSV to score (the run's columns)")],
    output: Annotated[
        Path | None, typer.Option(help="CSV of scores and flags [default: RUN/detections.csv]")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="also save a figure of the scored series here")
    ] = None,
) -> None:
    """Score a CSV with a trained detector; write timestamps, values, scores, flags, events."""
    detector = det.Detector.from_run(run)
    series = read_run_series(run, input, detector)
    found = detector.detect(series)
    target = output or run / "detections.csv"
    write_detections(target, series, found)
    if plot is not None:
        from .plots import plot_detection

        plot_detection(
            plot,
            series.values,
            found.scores,
            found.levels,
            found.events,
            title=str(input),
            columns=series.columns,
        )
    print(
        f"{len(found.events)} event(s), {int(found.flags.sum())} flagged record(s); wrote {target}"
    )


def evaluate_command(
    run: RunOpt,
    input: Annotated[
        Path | None, typer.Option("--input", help="labelled CSV [default: the run's training file]")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="label file [default: the run's data.labels]")
    ] = None,
    key: Annotated[str | None, typer.Option(help="the series' key in a JSON label file")] = None,
    probation: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="records not scored "
            "[default: the run's training records for its own file, else NAB's]",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="also save a figure with the labelled windows here")
    ] = None,
) -> None:
    """Score a labelled series: event precision/recall/F1 and the NAB score; print JSON."""
    detector = det.Detector.from_run(run)
    d = detector.config.data
    label_file = labels or (Path(d.labels) if d.labels else None)
    if label_file is None:
        raise ValueError("no labels: give --labels FILE (or train with --data.labels FILE)")
    series = read_run_series(run, input, detector)
    windows = read_windows(label_file, series, key or d.label_key or None)
    own = input is None or Path(input).resolve() == Path(d.path).resolve()
    if probation is None:
        state = json.loads((run / det.DETECTOR_FILE).read_text())
        probation = state["train_rows"] if own else probation_length(len(series))
    found = detector.detect(series)
    result = summarise([score_file(found.events, windows, len(series), probation)]).as_dict()
    result.update(
        {"series": series.source, "probation": probation, "events": found.events.tolist()}
    )
    write_json(run / "evaluation.json", result)
    if plot is not None:
        from .plots import plot_detection

        plot_detection(
            plot,
            series.values,
            found.scores,
            found.levels,
            found.events,
            windows,
            probation,
            series.source,
            series.columns,
        )
    print(json.dumps(result, indent=2))


def write_detections(path: Path, series: Series, found: det.Detection) -> None:
    """CSV: timestamp, the value columns, score, threshold, flag (0/1), event (1 at onsets)."""
    onsets = np.zeros(len(series), dtype=int)
    onsets[found.events] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", *series.columns, "score", "threshold", "flag", "event"])
        for i in range(len(series)):
            stamp = np.datetime_as_string(series.timestamps[i], unit="s").replace("T", " ")
            writer.writerow(
                [
                    stamp,
                    *(repr(float(v)) for v in series.values[i]),
                    _num(found.scores[i]),
                    _num(found.levels[i]),
                    int(found.flags[i]),
                    onsets[i],
                ]
            )
    tmp.replace(path)


def _num(value: float) -> str:
    return "" if not np.isfinite(value) else repr(float(value))


AnomalyTask.actions = {"detect": detect_command, "evaluate": evaluate_command}
TASK = AnomalyTask()
