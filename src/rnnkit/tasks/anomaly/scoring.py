"""Anomaly scores: what turns a network's (or an estimator's) output into a score per record.

=============  ======================================  ==========================================
model.method   network (trained by rnnkit.train)       anomaly score of the window ending at t
=============  ======================================  ==========================================
ensemble       the forecaster and the autoencoder       exp of the mean of their standardised log
               (one module, one summed loss)            errors (:func:`ensemble_scores`)
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


def log_robust_stats(errors: np.ndarray, floor: float = 1e-2) -> tuple[float, float]:
    """(m, d) of positive errors (N,): the median of ``log e`` and ``1.4826 · MAD(log e)``.

    ``d`` is at least ``floor`` (a 1% relative change), so near-constant calibration errors do
    not make every later change look infinitely unusual.
    """
    logs = np.log(np.maximum(np.asarray(errors, dtype=np.float64), 1e-12))
    logs = logs[np.isfinite(logs)]
    if logs.size < 2:
        raise ValueError(f"need at least 2 finite errors to standardise, got {logs.size}")
    median = float(np.median(logs))
    return median, max(floor, 1.4826 * float(np.median(np.abs(logs - median))))


def ensemble_scores(errors: np.ndarray, stats: list[tuple[float, float]]) -> np.ndarray:
    """Combine K detectors' errors (T, K) into one positive score (T,).

    ``s_t = exp((1/K) Σ_k z_kt)`` with ``z_kt = (log e_kt − m_k) / d_k`` and ``(m_k, d_k)`` from
    :func:`log_robust_stats` on each detector's calibration errors: each error is measured in
    robust standard deviations of its own log errors, so neither detector's scale dominates and
    the combined score has no unit (1 = both at their calibration median). NaN where any
    detector has no score.
    """
    errors = np.asarray(errors, dtype=np.float64)
    logs = np.log(np.maximum(errors, 1e-12))
    z = [(logs[:, k] - m) / d for k, (m, d) in enumerate(stats)]
    return np.exp(np.minimum(np.mean(z, axis=0), 700.0))
