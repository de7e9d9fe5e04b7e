"""Baselines on the same windows as the model: a forecast is only worth showing beside them.

Every function takes the (scaled) series as a (T, C) array and the forecast origins as the rows
of the last observed value, and returns (N, H, C) forecasts for rows ``origin + 1 ... origin + H``.

* ``naive``: the last value (the random walk, the honest benchmark for prices).
* ``seasonal_naive``: the value one season before each step (``m`` from the frequency).
* ``mean``: the mean of the lookback window.
* ``linear``: NLinear (Zeng et al. 2023) fitted in closed form: one linear map from the
  lookback, less its last value, to the horizon, shared by every channel and fitted by least
  squares on the training windows.
* ``arima`` / ``ets``: statsmodels state-space models fitted once on the training rows (at most
  the last ``max_fit`` of them), then refiltered over the whole series with those parameters
  fixed: the forecast from each origin uses the history up to that origin only. The filtered
  state makes every origin's H-step forecast one matrix product, so thousands of rolling origins
  cost a few seconds, not thousands of fits.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np


def naive(series: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(N, H, C): the value at each origin, repeated."""
    return np.repeat(series[origins][:, None, :], horizon, axis=1)


def seasonal_naive(
    series: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """(N, H, C): step h repeats the value at ``origin + h - m * ceil(h / m)``."""
    h = np.arange(1, horizon + 1)
    back = h - season * np.ceil(h / season).astype(int)  # in (-m, 0]
    rows = origins[:, None] + back[None, :]
    if rows.min() < 0:
        raise ValueError(f"seasonal naive needs {season} rows of history before the first origin")
    return series[rows]


def window_mean(series: np.ndarray, origins: np.ndarray, horizon: int, lookback: int):
    """(N, H, C): the mean of the ``lookback`` rows ending at each origin."""
    csum = np.concatenate([np.zeros((1, series.shape[1])), np.cumsum(series, axis=0)])
    start = np.maximum(origins + 1 - lookback, 0)
    mean = (csum[origins + 1] - csum[start]) / (origins + 1 - start)[:, None]
    return np.repeat(mean[:, None, :], horizon, axis=1)


def linear(
    series: np.ndarray,
    fit_rows: tuple[int, int],
    origins: np.ndarray,
    horizon: int,
    lookback: int,
    *,
    ridge: float = 1e-6,
) -> np.ndarray:
    """(N, H, C) forecasts of a last-value-normalised linear model fitted on ``fit_rows``.

    For a window x (L values of one channel) with last value r, the forecast is
    ``r + W^T [x_1 - r, ..., x_{L-1} - r, 1]`` (``x_L - r`` is always 0); W (L, H) minimises the
    squared error over every training window (every channel, windows inside ``fit_rows`` only)
    with a ridge of ``ridge * trace(X^T X) / L`` that only keeps the solve well posed.
    """
    start, end = fit_rows
    L = lookback
    n = end - start - L - horizon + 1
    if n < 1:
        raise ValueError(f"linear baseline: {end - start} training rows hold no window of "
                         f"{L} + {horizon} rows")  # fmt: skip
    gram, cross = np.zeros((L, L)), np.zeros((L, horizon))
    for c in range(series.shape[1]):
        x, y = _normalised_windows(series[start:end, c], np.arange(L - 1, L - 1 + n), L, horizon)
        gram += x.T @ x
        cross += x.T @ y
    gram[np.diag_indices(L)] += ridge * np.trace(gram) / L
    weights = np.linalg.solve(gram, cross)  # (L, H)
    if origins.min() < L - 1:
        raise ValueError(f"linear baseline needs {L} rows up to the first origin")
    out = np.empty((len(origins), horizon, series.shape[1]))
    for c in range(series.shape[1]):
        x, _ = _normalised_windows(series[:, c], origins, L, 0)
        out[:, :, c] = x @ weights + series[origins, c][:, None]
    return out


def _normalised_windows(y: np.ndarray, origins: np.ndarray, lookback: int, horizon: int):
    """``[x_1 - r, ..., x_{L-1} - r, 1]`` (N, L) and ``future - r`` (N, H) of the windows
    ending at ``origins``."""
    rows = origins[:, None] + np.arange(1 - lookback, horizon + 1)[None, :]  # (N, L + H)
    values = y[rows]
    last = y[origins][:, None]
    past = np.concatenate([values[:, : lookback - 1] - last, np.ones((len(origins), 1))], axis=1)
    return past, values[:, lookback:] - last


def statespace(
    kind: str,
    series: np.ndarray,
    fit_rows: tuple[int, int],
    origins: np.ndarray,
    horizon: int,
    season: int,
    *,
    order: tuple[int, int, int] = (2, 1, 1),
    max_fit: int = 2000,
) -> np.ndarray:
    """(N, H, C) forecasts of an ``"arima"`` or ``"ets"`` model fitted per channel on ``fit_rows``.

    ARIMA: ``order`` plus a seasonal (0, 1, 1, m) part when 1 < m <= 12 (longer seasons make the
    state, and the fit, too large). ETS: additive damped trend, additive season when
    1 < m <= 48. Parameters are fitted on at most the last ``max_fit`` training rows.
    """
    out = np.empty((len(origins), horizon, series.shape[1]))
    for c in range(series.shape[1]):
        out[:, :, c] = _statespace_channel(
            kind, series[:, c], fit_rows, origins, horizon, season, order, max_fit
        )
    return out


def _statespace_channel(kind, y, fit_rows, origins, horizon, season, order, max_fit):
    key = (kind, hashlib.sha1(y.tobytes()).hexdigest(), fit_rows, season, order, max_fit)
    if key not in _FILTERED or _FILTERED[key][0].shape[1] < origins.max() + 2:
        _FILTERED[key] = _filter(kind, y, fit_rows, origins.max(), season, order, max_fit)
        while len(_FILTERED) > 32:
            _FILTERED.pop(next(iter(_FILTERED)))
    predicted_state, Z, T, c, d = _FILTERED[key]
    a = predicted_state[:, origins + 1].T  # (N, k): state of row origin + 1
    steps = []
    for _ in range(horizon):
        steps.append(a @ Z[0] + d[0])
        a = a @ T.T + c
    return np.stack(steps, axis=1)


# Fitted and filtered models, so that several horizons on one series fit each model once.
_FILTERED: dict[tuple, tuple[np.ndarray, ...]] = {}


def _filter(kind, y, fit_rows, last_origin, season, order, max_fit):
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    start, end = fit_rows
    train = y[max(start, end - max_fit) : end]
    if kind == "arima":
        seasonal = (0, 1, 1, season) if 1 < season <= 12 else (0, 0, 0, 0)
        model = SARIMAX(train, order=order, seasonal_order=seasonal)
    elif kind == "ets":
        m = season if 1 < season <= 48 and len(train) >= 2 * season + 2 else None
        model = ExponentialSmoothing(train, trend=True, damped_trend=True, seasonal=m)
    else:
        raise ValueError(f"kind must be 'arima' or 'ets', got {kind!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the fit is used as it is
        fitted = model.fit(disp=False)
        filtered = fitted.apply(y[: last_origin + 1])
    ssm = filtered.model.ssm
    Z, T = _fixed(ssm["design"]), _fixed(ssm["transition"])  # (1, k), (k, k)
    c, d = _fixed(ssm["state_intercept"])[:, 0], _fixed(ssm["obs_intercept"])[:, 0]
    return filtered.predicted_state, Z, T, c, d  # predicted_state: (k, last_origin + 2)


def _fixed(matrix: np.ndarray) -> np.ndarray:
    """A time-invariant system matrix without its trailing time axis, as 2-D."""
    if matrix.ndim == 3:
        matrix = matrix[:, :, 0]
    return matrix.reshape(matrix.shape[0], -1)
