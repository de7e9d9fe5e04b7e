"""The four detectors' scores, and a trained detector that scores and flags new series.

=============  ======================================  ==========================================
model.method   network (trained by rnnkit.train)       anomaly score of the window ending at t
=============  ======================================  ==========================================
autoencoder    LSTM window autoencoder                  mean squared reconstruction error
forecast       LSTM forecaster of the next P records    mean absolute error of the forecasts of t
ocsvm          GRU window autoencoder (its encoder)     One-Class SVM: −decision_function(z_t) − m
iforest        RNN window autoencoder (its encoder)     Isolation Forest: −score_samples(z_t) − m
=============  ======================================  ==========================================

(m: the estimator's lowest score on the training features.) All four share the scaling
(:class:`rnnkit.data.timeseries.StandardScaler` fitted on the network's training records) and
the windows (:func:`rnnkit.data.timeseries.sliding_windows`), and turn scores into detections
the same way: causal EWMA smoothing, a threshold fitted on calibration scores
(:mod:`.thresholds`), events (:func:`.nab.events_from_flags`).

A series is scored point by point: the score of record t uses records t−L+1 … t (the
forecaster: t−L … t−1 to predict t), so scores before the first full window are NaN.

Shapes: T records, C value columns, L window, H hidden size, P horizon, N windows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM
from torch import Tensor, nn

from rnnkit.data.timeseries import Scaler, scaler_from_state, sliding_windows

from .data import Series
from .nab import events_from_flags
from .thresholds import Threshold, smooth, threshold_from_dict

DEFAULT_CELLS = {"autoencoder": "lstm", "forecast": "lstm", "ocsvm": "gru", "iforest": "rnn"}
FEATURE_METHODS = ("ocsvm", "iforest")
DETECTOR_FILE = "detector.json"  # threshold and calibration scores, in the run directory
FEATURES_FILE = "features.safetensors"  # training features of the scikit-learn detectors


# ----------------------------------------------------------------------------- shared pieces
def scaled_windows(
    x: np.ndarray, size: int, *, center: str = "none", lookback: int | None = None
) -> np.ndarray:
    """All windows of ``size`` scaled records (T, C) -> (T − size + 1, size, C) float32.

    ``center="mean"`` subtracts each window's mean; ``"last"`` subtracts the record at
    ``lookback − 1`` (the forecaster's last input) from the whole window.
    """
    w = np.array(sliding_windows(np.asarray(x, np.float32), size), dtype=np.float32)
    if center == "mean":
        w -= w.mean(axis=1, keepdims=True)
    elif center == "last":
        w -= w[:, lookback - 1 : lookback]
    return w


def window_errors(model: nn.Module, method: str, x: Tensor, y: Tensor) -> Tensor:
    """Per-window errors of a batch: autoencoder (N,) mean squared error of reconstructing x;
    forecast (N, P) mean absolute error over C of the P forecasts of y."""
    if method == "forecast":
        return (model(x) - y).abs().mean(dim=2)
    return (model(x) - x).pow(2).mean(dim=(1, 2))


def forecast_record_scores(errors: np.ndarray, first: np.ndarray, length: int) -> np.ndarray:
    """Average the forecasts' errors per record: errors (N, P) of windows whose first forecast
    is record ``first`` (N,) -> (length,) with NaN where no forecast exists."""
    sums, counts = np.zeros(length), np.zeros(length)
    for p in range(errors.shape[1]):
        rows = first + p
        ok = (rows >= 0) & (rows < length)
        np.add.at(sums, rows[ok], errors[ok, p])
        np.add.at(counts, rows[ok], 1)
    out = np.full(length, np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return out


def fit_estimator(method: str, features: np.ndarray, nu: float, n_estimators: int, seed: int):
    """A One-Class SVM (RBF, gamma='scale') or an Isolation Forest fitted on (N, H) features.

    Both fits are deterministic, so a saved detector keeps the features and refits on load.
    The estimator's ``floor_`` is its lowest score on the training features: scores are given
    relative to it (:func:`estimator_scores`), so that they start near 0 like the networks'
    errors and a threshold's ``margin`` scales the excess over normal, not an arbitrary offset
    (the Isolation Forest's raw scores sit in (0, 1) around 0.5; the SVM's change sign).
    """
    if method == "ocsvm":
        estimator = OneClassSVM(nu=nu, gamma="scale").fit(features)
    else:
        estimator = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(features)
    estimator.floor_ = 0.0
    estimator.floor_ = float(estimator_scores(estimator, features).min())
    return estimator


def estimator_scores(estimator, features: np.ndarray) -> np.ndarray:
    """Anomaly scores (higher = more anomalous) of (N, H) features, minus ``floor_``."""
    if isinstance(estimator, OneClassSVM):
        raw = -estimator.decision_function(features)
    else:
        raw = -estimator.score_samples(features)
    return raw - getattr(estimator, "floor_", 0.0)


def write_atomic_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- the detector
@dataclass
class Detection:
    """A scored series, all (T,): ``scores`` (NaN before the first full window), ``levels`` (the
    threshold in force), ``flags``; and ``events``, the record indices of event onsets."""

    scores: np.ndarray
    levels: np.ndarray
    flags: np.ndarray
    events: np.ndarray


class Detector:
    """A trained detector: network, scaler, optional scikit-learn model, threshold, event rule.

    Build it with :func:`rnnkit.tasks.anomaly.fit_detector` (trains through the engine) or
    :meth:`from_run` (loads a run directory: the engine's checkpoint plus ``detector.json``).

    Args:
        network: the trained autoencoder or forecaster (eval mode).
        config: the task's configuration (:class:`~rnnkit.tasks.anomaly.task.AnomalyConfig`).
        scaler: fitted on the training records.
        columns: the value columns it was trained on.
        threshold: fitted on calibration scores.
        estimator: the One-Class SVM or Isolation Forest (feature methods only).
        calibration: the unsmoothed calibration scores (to refit the threshold with another rule).
    """

    def __init__(
        self,
        network: nn.Module,
        config: Any,
        scaler: Scaler,
        columns: tuple[str, ...],
        threshold: Threshold,
        estimator: Any = None,
        calibration: np.ndarray | None = None,
    ) -> None:
        self.network, self.config, self.scaler = network.eval(), config, scaler
        self.columns, self.threshold, self.estimator = tuple(columns), threshold, estimator
        self.calibration = calibration  # raw scores the threshold was fitted on
        self.run_dir: Path | None = None

    @property
    def method(self) -> str:
        return self.config.model.method

    @property
    def context(self) -> int:
        """Records before the first score: L (the forecaster: L + 1)."""
        return self.config.model.window + (1 if self.method == "forecast" else 0)

    @classmethod
    def from_run(cls, run: str | os.PathLike, prefer: str = "best") -> Detector:
        """Load a detector from a run directory written by ``rnnkit anomaly train``."""
        from rnnkit.train import load_run  # no Lightning import

        from .task import TASK

        run = Path(run)
        path = run / DETECTOR_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist: {run} is not a finished anomaly run "
                f"(train one with `rnnkit anomaly train`)"
            )
        loaded = load_run(TASK, run, prefer=prefer)
        saved = json.loads(path.read_text())
        state, m = loaded.state, loaded.config.model
        estimator = None
        if m.method in FEATURE_METHODS:
            features = load_file(str(run / FEATURES_FILE))["features"].numpy()
            estimator = fit_estimator(
                m.method, features, m.nu, m.n_estimators, loaded.config.train.seed
            )
        detector = cls(
            loaded.model,
            loaded.config,
            scaler_from_state(state["scaler"]),
            tuple(state["columns"]),
            threshold_from_dict(saved["threshold"]),
            estimator,
            np.asarray(saved["calibration"]["raw_scores"], dtype=np.float64),
        )
        detector.run_dir = run
        return detector

    def with_rule(self, rule: Any) -> Detector:
        """The same detector with another detection rule (a ``DetectRule``): the threshold is
        refitted on the saved calibration scores, smoothed by the new rule."""
        threshold = rule.make_threshold().fit(smooth(self.calibration, rule.smoothing))
        config = replace(self.config, detect=rule)
        other = Detector(
            self.network,
            config,
            self.scaler,
            self.columns,
            threshold,
            self.estimator,
            self.calibration,
        )
        other.run_dir = self.run_dir
        return other

    @torch.no_grad()
    def raw_scores(self, values: np.ndarray, batch: int = 2048) -> np.ndarray:
        """Unsmoothed scores of raw records (T, C) -> (T,), NaN where no full window exists."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.columns):
            raise ValueError(
                f"values must be (T, {len(self.columns)}) for columns {list(self.columns)}, "
                f"got shape {values.shape}"
            )
        m = self.config.model
        T, L = len(values), m.window
        scores = np.full(T, np.nan)
        if self.context > T:
            return scores
        x = self.scaler.transform(values).astype(np.float32)
        if self.method == "forecast":
            # window k holds inputs k … k+L−1 and targets k+L … k+L+P−1 (NaN past the end)
            padded = np.concatenate([x, np.full((m.horizon, x.shape[1]), np.nan, np.float32)])
            w = torch.from_numpy(
                scaled_windows(padded, L + m.horizon, center=_center(m), lookback=L)[: T - L]
            )
            errors = (
                torch.cat(
                    [
                        window_errors(self.network, "forecast", b[:, :L], b[:, L:])
                        for b in w.split(batch)
                    ]
                )
                .double()
                .numpy()
            )  # (T − L, P)
            return forecast_record_scores(errors, np.arange(T - L) + L, T)
        w = torch.from_numpy(scaled_windows(x, L, center=_center(m)))  # (T − L + 1, L, C)
        if self.method == "autoencoder":
            out = torch.cat(
                [window_errors(self.network, "autoencoder", b, b) for b in w.split(batch)]
            )
        else:
            z = torch.cat([self.network.encode(b) for b in w.split(batch)]).double().numpy()
            out = torch.from_numpy(estimator_scores(self.estimator, z))
        scores[L - 1 :] = out.double().numpy()
        return scores

    def score(self, values: np.ndarray) -> np.ndarray:
        """Smoothed scores (T,) of raw records (T, C) (EWMA span ``detect.smoothing``)."""
        return smooth(self.raw_scores(values), self.config.detect.smoothing)

    def detect(self, series: Series) -> Detection:
        """Score ``series`` point by point, threshold the scores, group flags into events."""
        if tuple(series.columns) != self.columns:
            raise ValueError(
                f"{series.source}: value columns {list(series.columns)} differ from the ones the "
                f"detector was trained on {list(self.columns)}"
            )
        if len(series) < self.context:
            raise ValueError(
                f"{series.source}: column(s) {series.column_text}: {len(series)} records, fewer "
                f"than the {self.context} the detector's window needs; the series is too short"
            )
        return self.flag(self.raw_scores(series.values))

    def flag(self, raw_scores: np.ndarray) -> Detection:
        """Smooth raw scores (T,), apply the threshold as a stream, group flags into events."""
        scores = smooth(raw_scores, self.config.detect.smoothing)
        levels, flags = _levels_and_flags(self.threshold, scores)
        events = events_from_flags(flags, self.config.detect.min_gap)
        return Detection(scores, levels, flags, events)


def _center(model_config: Any) -> str:
    if not model_config.center:
        return "none"
    return "last" if model_config.method == "forecast" else "mean"


def _levels_and_flags(threshold: Threshold, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(threshold, "run"):
        return threshold.run(scores)
    return threshold.levels(scores), threshold.flags(scores)
