"""Forecast metrics. Arrays are (N, H, C): N windows (forecast origins), H steps, C targets.

* :func:`scaled_metrics` — MSE and MAE on the standardised scale, over every window (the published
  ETT protocol).
* :func:`original_metrics` — MAE, RMSE, MAPE and sMAPE (percent) in the data's own units.
* :func:`by_step` — MAE and MSE per horizon step (error grows with the step).
* :func:`interval_metrics` — coverage and width of a prediction interval, pinball loss.
* :func:`backtest` — rolling-origin folds: non-overlapping forecasts every H rows across the test
  period, one score per fold, so the spread over time shows beside the mean.
"""

from __future__ import annotations

import numpy as np


def scaled_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """``{"mse", "mae"}`` over all windows, steps and channels."""
    err = pred - true
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}


def original_metrics(pred: np.ndarray, true: np.ndarray, eps: float = 1e-8) -> dict[str, float]:
    """``{"mae", "rmse", "mape", "smape"}`` in original units; percentages for the last two.

    MAPE skips targets with ``|true| <= eps`` (it is undefined there) and is NaN when all are.
    sMAPE is ``mean(2|pred - true| / (|pred| + |true|))`` with 0/0 taken as 0.
    """
    err = pred - true
    nonzero = np.abs(true) > eps
    mape = np.mean(np.abs(err[nonzero] / true[nonzero])) * 100 if nonzero.any() else np.nan
    denom = np.abs(pred) + np.abs(true)
    ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(err), where=denom > eps)
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(mape),
        "smape": float(np.mean(ratio) * 100),
    }


def by_step(pred: np.ndarray, true: np.ndarray) -> dict[str, list[float]]:
    """``{"mae": [H], "mse": [H]}``: errors averaged over windows and channels, per step."""
    err = pred - true
    return {
        "mae": np.mean(np.abs(err), axis=(0, 2)).tolist(),
        "mse": np.mean(err**2, axis=(0, 2)).tolist(),
    }


def interval_metrics(
    quantile_pred: np.ndarray, true: np.ndarray, quantiles: tuple[float, ...]
) -> dict[str, float]:
    """Coverage and width of the outermost interval, and the mean pinball loss.

    ``quantile_pred`` is (N, H, C, Q). Returns ``{"interval": "10-90%", "nominal", "coverage",
    "width", "pinball"}``; coverage near nominal means calibrated intervals.
    """
    lo, hi = quantile_pred[..., 0], quantile_pred[..., -1]
    q = np.asarray(quantiles)
    diff = true[..., None] - quantile_pred
    pinball = np.maximum(q * diff, (q - 1) * diff).mean()
    return {
        "interval": f"{quantiles[0] * 100:g}-{quantiles[-1] * 100:g}%",
        "nominal": float(quantiles[-1] - quantiles[0]),
        "coverage": float(np.mean((true >= lo) & (true <= hi))),
        "width": float(np.mean(hi - lo)),
        "pinball": float(pinball),
    }


def backtest(forecasts: dict[str, np.ndarray], true: np.ndarray, horizon: int) -> dict[str, object]:
    """Rolling-origin folds over the test windows: origins every ``horizon`` rows, MAE and MSE.

    ``forecasts`` maps a name to its (N, H, C) forecast of the stride-1 windows; ``true`` is
    (N, H, C). Returns ``{"folds": [window index of each origin], "<name>": {"mae": [...],
    "mse": [...], "mae_mean", "mae_std", "wins_vs_naive"}}`` (wins when a ``naive`` entry exists).
    """
    folds = np.arange(0, len(true), horizon)
    result: dict[str, object] = {"folds": folds.tolist()}
    naive_mae = None
    if "naive" in forecasts:
        naive_mae = np.mean(np.abs(forecasts["naive"][folds] - true[folds]), axis=(1, 2))
    for name, pred in forecasts.items():
        err = pred[folds] - true[folds]
        mae = np.mean(np.abs(err), axis=(1, 2))
        entry = {
            "mae": mae.tolist(),
            "mse": np.mean(err**2, axis=(1, 2)).tolist(),
            "mae_mean": float(mae.mean()),
            "mae_std": float(mae.std()),
        }
        if naive_mae is not None:
            entry["wins_vs_naive"] = int(np.sum(mae < naive_mae))
        result[name] = entry
    return result
