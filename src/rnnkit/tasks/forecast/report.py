"""The forecast report: a model's forecasts beside the baselines' on the same windows.

:func:`build_report` takes the model's forecasts of every window of a part (the engine's
evaluation computes them, stride 1 by default, the ETT protocol), computes the baselines at the
same origins, and returns one JSON-ready report: standardised MSE/MAE, original-unit
MAE/RMSE/MAPE/sMAPE, MAE by horizon step, interval coverage when the model emits quantiles,
and rolling-origin backtest folds.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import baselines as bl
from . import metrics
from .data import Prepared
from .plots import plot_error_by_step, plot_forecast

BASELINES = ("naive", "seasonal_naive", "mean", "linear", "arima", "ets")


def baseline_forecasts(
    prep: Prepared,
    origins: np.ndarray,
    names: tuple[str, ...] = BASELINES,
    *,
    arima_order: tuple[int, int, int] = (2, 1, 1),
    max_fit: int = 2000,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Scaled (N, H, C_out) forecasts of each baseline at ``origins``, and why any was skipped."""
    z = prep.z_obs[:, : prep.n_targets]
    H, m = prep.horizon, prep.season
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            if name == "naive":
                out[name] = bl.naive(z, origins, H)
            elif name == "seasonal_naive":
                out[name] = bl.seasonal_naive(z, origins, H, m)
            elif name == "mean":
                out[name] = bl.window_mean(z, origins, H, prep.lookback)
            elif name == "linear":
                out[name] = bl.linear(z, prep.split.train, origins, H, prep.lookback)
            elif name in ("arima", "ets"):
                out[name] = bl.statespace(
                    name, z, prep.split.train, origins, H, m, order=arima_order, max_fit=max_fit
                )
            else:
                raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
        except (np.linalg.LinAlgError, RuntimeError, ValueError) as err:
            if "unknown baseline" in str(err):
                raise
            skipped[name] = str(err)
    return out, skipped


def build_report(
    prep: Prepared,
    raw: np.ndarray,
    quantiles: tuple[float, ...],
    origins: np.ndarray,
    *,
    part: str = "test",
    baselines: tuple[str, ...] = BASELINES,
    arima_order: tuple[int, int, int] = (2, 1, 1),
    max_fit: int = 2000,
    plot_dir: str | Path | None = None,
    plot_series: tuple[str, ...] = (),
) -> dict:
    """The report of scaled forecasts ``raw`` (N, H, C_out[, Q]) made at ``origins`` (N,).

    Baselines are computed at the same origins; see the module docstring for the contents.
    """
    t0 = time.perf_counter()
    point = raw[..., quantiles.index(0.5)] if quantiles else raw
    true = _true(prep, origins)
    base, skipped = baseline_forecasts(
        prep, origins, baselines, arima_order=arima_order, max_fit=max_fit
    )
    forecasts = {"model": point, **base}
    targets = list(range(prep.n_targets))
    true_orig = prep.scaler.inverse_transform(true, targets)
    report: dict = {
        "part": part,
        "windows": len(origins),
        "first_origin": str(prep.series.index[origins[0]]),
        "last_origin": str(prep.series.index[origins[-1]]),
        "targets": list(prep.columns.targets),
        "scaled": {},
        "original": {},
        "by_step_mae": {},
    }
    for name, pred in forecasts.items():
        report["scaled"][name] = metrics.scaled_metrics(pred, true)
        pred_orig = prep.scaler.inverse_transform(pred, targets)
        report["original"][name] = metrics.original_metrics(pred_orig, true_orig)
        report["by_step_mae"][name] = metrics.by_step(pred, true)["mae"]
    if skipped:
        report["skipped_baselines"] = skipped
    if quantiles:
        report["interval"] = metrics.interval_metrics(raw, true, quantiles)
    report["backtest"] = metrics.backtest(forecasts, true, prep.horizon)
    naive_mae = report["scaled"].get("naive", {}).get("mae")
    if naive_mae:
        report["skill_vs_naive"] = 1.0 - report["scaled"]["model"]["mae"] / naive_mae
    report["baseline_seconds"] = time.perf_counter() - t0
    if plot_dir is not None:
        report["plots"] = _plots(prep, quantiles, raw, forecasts, origins, true, Path(plot_dir),
                                 plot_series)  # fmt: skip
    return report


def _plots(prep, quantiles, raw, forecasts, origins, true, folder, plot_series) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = list(plot_series) or [prep.columns.targets[0]]
    paths = [
        plot_error_by_step(
            folder / "error_by_step.png",
            {k: metrics.by_step(v, true)["mae"] for k, v in forecasts.items()},
            metric="MAE (scaled)",
            title=f"{Path(prep.series.source).name}: error by horizon step",
        )
    ]
    i = len(origins) - 1  # the last origin of the part
    o, H, L = origins[i], prep.horizon, prep.lookback
    index = prep.series.index
    for name in names:
        if name not in prep.columns.targets:
            raise ValueError(
                f"plot series {name!r} is not a target; targets: {prep.columns.targets}"
            )
        c = prep.columns.targets.index(name)

        def orig(z, c=c):
            return prep.scaler.inverse_transform(np.asarray(z)[:, None], [c])[:, 0]

        history = pd.Series(orig(prep.z_obs[o + 1 - L : o + 1, c]), index[o + 1 - L : o + 1])
        actual = pd.Series(orig(prep.z_obs[o + 1 : o + 1 + H, c]), index[o + 1 : o + 1 + H])
        lines = {k: orig(v[i, :, c]) for k, v in forecasts.items() if k != "mean"}
        band = None
        if quantiles:
            qs = quantiles
            label = f"{qs[0] * 100:g}-{qs[-1] * 100:g}% interval"
            band = (orig(raw[i, :, c, 0]), orig(raw[i, :, c, -1]), label)
        path = folder / f"forecast_{_safe(name)}.png"
        title = f"{name}: forecast from {index[o]}"
        paths.append(plot_forecast(path, history, actual, lines, interval=band, title=title))
    return [str(p) for p in paths]


def _true(prep: Prepared, origins: np.ndarray) -> np.ndarray:
    return np.stack([prep.z_obs[o + 1 : o + 1 + prep.horizon, : prep.n_targets] for o in origins])


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
