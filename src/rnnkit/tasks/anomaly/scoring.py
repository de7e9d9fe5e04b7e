"""Anomaly scores: what turns a network's (or an estimator's) output into a score per record.

=============  ======================================  ==========================================
model.method   network (trained by rnnkit.train)       anomaly score of the window ending at t
=============  ======================================  ==========================================
autoencoder    LSTM window autoencoder                  mean squared reconstruction error
forecast       the forecasting task's LSTM forecaster   mean absolute error of the forecasts of t
ocsvm          GRU window autoencoder (its encoder)     One-Class SVM: −decision_function(z_t) − m
iforest        RNN window autoencoder (its encoder)     Isolation Forest: −score_samples(z_t) − m
=============  ======================================  ==========================================

(m: the estimator's lowest score on the training features.) Shapes: T records, C value columns,
L window, H hidden size, P horizon, N windows.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM
from torch import Tensor


def reconstruction_errors(x_hat: Tensor, x: Tensor) -> Tensor:
    """(N,) mean squared error of each window's reconstruction: (N, L, C) and (N, L, C)."""
    return (x_hat - x).pow(2).mean(dim=(1, 2))


def forecast_errors(pred: Tensor, y: Tensor) -> Tensor:
    """(N, P) mean absolute error over the C columns of each of the P forecasts (N, P, C)."""
    return (pred - y).abs().mean(dim=2)


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
