"""A trained detector: a scorer (network [+ estimator]) composed with a threshold and an event rule.

All four methods share the scaling (fitted on the network's training records), the windows
(:mod:`rnnkit.data.windows`), and how scores become detections: causal EWMA smoothing, a
threshold fitted on calibration scores (:mod:`.thresholds`), events
(:func:`.nab.events_from_flags`).

A series is scored point by point: the score of record t uses records t−L+1 … t (the
forecaster: t−L … t−1 to predict t; the ensemble: both), so scores before the first full window
are NaN.

Shapes: T records, C value columns, L window, H hidden size, P horizon, N windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.data.scaling import Scaler, scaler_from_state
from rnnkit.data.timeseries import TimeSeries
from rnnkit.data.windows import centered_windows

from .config import FEATURE_METHODS, DetectRule
from .nab import events_from_flags
from .scoring import (
    ensemble_scores,
    estimator_scores,
    fit_estimator,
    forecast_errors,
    forecast_record_scores,
    reconstruction_errors,
)
from .smoothing import smooth
from .thresholds import Threshold, threshold_from_dict


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
    :func:`rnnkit.tasks.anomaly.load_detector` (a run directory), which call :meth:`from_state`.

    Args:
        network: the trained autoencoder or forecaster (eval mode).
        config: the task's configuration (:class:`~rnnkit.tasks.anomaly.config.AnomalyConfig`).
        scaler: fitted on the training records.
        columns: the value columns it was trained on.
        threshold: fitted on calibration scores.
        estimator: the One-Class SVM or Isolation Forest (feature methods only).
        calibration: the unsmoothed calibration scores (to refit the threshold with another rule).
        train_rows: the records at the start of its training series that it learnt from.
        normalisers: the ensemble's (median, scale) of each network's log calibration errors.
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
        train_rows: int = 0,
        normalisers: list[tuple[float, float]] | None = None,
    ) -> None:
        self.network, self.config, self.scaler = network.eval(), config, scaler
        self.columns, self.threshold, self.estimator = tuple(columns), threshold, estimator
        self.calibration = calibration  # raw scores the threshold was fitted on
        self.train_rows = train_rows
        self.normalisers = [tuple(pair) for pair in normalisers or ()]

    @classmethod
    def from_state(cls, network: nn.Module, config: Any, state: Mapping[str, Any]) -> Detector:
        """A detector from its trained network and the task state its run saved."""
        m = config.model
        estimator = None
        if m.method in FEATURE_METHODS:
            features = np.asarray(state["features"], dtype=np.float64)
            estimator = fit_estimator(m.method, features, m.nu, m.n_estimators, config.train.seed)
        return cls(
            network,
            config,
            scaler_from_state(state["scaler"]),
            tuple(state["columns"]),
            threshold_from_dict(state["threshold"]),
            estimator,
            np.asarray(state["calibration_scores"], dtype=np.float64),
            int(state["train_rows"]),
            state.get("normalisers"),
        )

    @property
    def method(self) -> str:
        return self.config.model.method

    @property
    def context(self) -> int:
        """Records before the first score: L (the forecaster and the ensemble: L + 1)."""
        return self.config.model.window + (1 if self.config.model.forecasts else 0)

    def with_rule(self, rule: DetectRule) -> Detector:
        """The same detector with another detection rule: the threshold is refitted on the
        saved calibration scores, smoothed by the new rule."""
        threshold = fit_threshold(rule, self.calibration, self.train_rows, self.config.model.window)
        config = replace(self.config, detect=rule)
        return Detector(
            self.network,
            config,
            self.scaler,
            self.columns,
            threshold,
            self.estimator,
            self.calibration,
            self.train_rows,
            self.normalisers,
        )

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
        if self.method == "ensemble":
            net = self.network
            forecast = _forecast_scores(net.forecaster, x, L, m.horizon, batch)
            ae = np.full(T, np.nan)
            ae[L - 1 :] = _reconstruction_scores(net.autoencoder, x, L, m.center_mode, batch)
            return ensemble_scores(np.stack([forecast, ae], axis=1), self.normalisers)
        if self.method == "forecast":
            return _forecast_scores(self.network, x, L, m.horizon, batch)
        if self.method == "autoencoder":
            scores[L - 1 :] = _reconstruction_scores(self.network, x, L, m.center_mode, batch)
            return scores
        w = torch.from_numpy(centered_windows(x, L, center=m.center_mode))  # (T − L + 1, L, C)
        z = torch.cat([self.network.encode(b) for b in w.split(batch)]).double().numpy()
        scores[L - 1 :] = estimator_scores(self.estimator, z)
        return scores

    @torch.no_grad()
    def window_scores(self, windows: np.ndarray) -> np.ndarray:
        """Unsmoothed score of the last record of each of N windows (N, R, C) of raw records,
        each scored from its own records only (R at least :attr:`context`): (N,)."""
        windows = np.asarray(windows, dtype=np.float64)
        if windows.ndim != 3 or windows.shape[1] < self.context:
            raise ValueError(
                f"windows must be (N, R >= {self.context}, {len(self.columns)}), got shape "
                f"{windows.shape}"
            )
        if self.method != "autoencoder":
            return np.array([self.raw_scores(w)[-1] for w in windows])
        L = self.config.model.window
        x = self.scaler.transform(windows[:, -L:]).astype(np.float32)  # (N, L, C)
        if self.config.model.center_mode == "mean":
            x = x - x.mean(axis=1, keepdims=True)
        x = torch.from_numpy(x)
        return reconstruction_errors(self.network(x), x).double().numpy()

    def score(self, values: np.ndarray) -> np.ndarray:
        """Smoothed scores (T,) of raw records (T, C) (EWMA span ``detect.smoothing``)."""
        return smooth(self.raw_scores(values), self.config.detect.smoothing)

    def detect(self, series: TimeSeries) -> Detection:
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
        return self.flag(self.raw_scores(series.values()))

    def flag(self, raw_scores: np.ndarray) -> Detection:
        """Smooth raw scores (T,), apply the threshold as a stream, group flags into events."""
        return apply_rule(self.config.detect, self.threshold, raw_scores, self.train_rows)


def fit_threshold(
    rule: DetectRule, calibration: np.ndarray, train_rows: int, window: int
) -> Threshold:
    """The threshold of ``rule`` fitted on unsmoothed calibration scores (smoothed by the rule)
    of a detector that learnt from ``train_rows`` records through windows of ``window``."""
    return rule.make_threshold(train_rows, window).fit(smooth(calibration, rule.smoothing))


def apply_rule(
    rule: DetectRule, threshold: Threshold, raw_scores: np.ndarray, train_rows: int
) -> Detection:
    """Smooth raw scores (T,), run them through the fitted threshold, group flags into events
    (``rule.gap_for(train_rows)`` records apart at least)."""
    scores = smooth(raw_scores, rule.smoothing)
    if hasattr(threshold, "run"):
        levels, flags = threshold.run(scores)
    else:
        levels, flags = threshold.levels(scores), threshold.flags(scores)
    events = events_from_flags(flags, rule.gap_for(train_rows))
    return Detection(scores, levels, flags, events)


def _forecast_scores(network: nn.Module, x: np.ndarray, L: int, P: int, batch: int) -> np.ndarray:
    """(T,) mean absolute forecast error per record of scaled records x (T, C); NaN before L."""
    T = len(x)
    # window k holds inputs k … k+L−1 and targets k+L … k+L+P−1 (NaN past the end)
    padded = np.concatenate([x, np.full((P, x.shape[1]), np.nan, np.float32)])
    w = torch.from_numpy(centered_windows(padded, L + P)[: T - L])
    errors = torch.cat([forecast_errors(network(b[:, :L]), b[:, L:]) for b in w.split(batch)])
    return forecast_record_scores(errors.double().numpy(), np.arange(T - L) + L, T)  # (T,)


def _reconstruction_scores(
    network: nn.Module, x: np.ndarray, L: int, center: str, batch: int
) -> np.ndarray:
    """(T − L + 1,) reconstruction error of every window of L scaled records x (T, C)."""
    w = torch.from_numpy(centered_windows(x, L, center=center))  # (T − L + 1, L, C)
    errors = torch.cat([reconstruction_errors(network(b), b) for b in w.split(batch)])
    return errors.double().numpy()
