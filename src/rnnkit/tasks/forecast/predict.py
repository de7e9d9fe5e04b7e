"""Forecasting new data with a trained run: a user's CSV as windows, forecasts as a frame.

A prediction input is scaled with the run's saved scalers; its windows end with the one whose
past is the file's last ``lookback`` rows and whose future is unknown (NaN): the forecast ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from rnnkit.data.scaling import scaler_from_state
from rnnkit.data.timeseries import TimeSeries, from_frame, read_frame
from rnnkit.data.windows import WindowDataset

from .data import known_features


def read_prediction_csv(
    path: Path, config: Any, state: Mapping[str, Any]
) -> tuple[TimeSeries, pd.DataFrame | None]:
    """The observed history of a prediction input, and the future rows of known columns."""
    known, H = state["known"], state["horizon"]
    frame, lines = read_frame(path, state["time_column"], state["observed"] + known)
    future = None
    if known:
        tail = frame.iloc[-H:]
        if len(frame) <= H or tail[state["observed"]].notna().any().any():
            raise ValueError(
                f"{path}: with known-future columns {known}, the file must end with {H} rows "
                f"whose known columns are filled and whose other columns are empty"
            )
        missing = np.flatnonzero(tail[known].isna().any(axis=1).to_numpy())
        if len(missing):
            raise ValueError(
                f"{path}: known-future columns {known} are empty in the forecast row at line "
                f"{len(frame) - H + missing[0] + 2}"
            )
        frame, future, lines = frame.iloc[:-H], tail[known], lines[:-H]
    hint = (
        f"the run was trained with data.fill {config.data.fill!r}: complete the file, or train "
        f"with --data.fill ffill or interpolate"
    )
    series = from_frame(
        frame, freq=state["freq"], fill=config.data.fill, source=str(path), lines=lines, hint=hint
    )
    return series, future


def prediction_windows(
    series: TimeSeries, future_known: pd.DataFrame | None, state: Mapping[str, Any]
) -> WindowDataset:
    """All windows of ``series`` scaled with the saved scalers, ending with the one whose past
    is the last ``lookback`` rows (its future is unknown: NaN). Batches carry ``origin_ns``."""
    L, H, freq = state["lookback"], state["horizon"], state["freq"]
    if len(series) < L:
        raise ValueError(f"{series.source} has {len(series)} rows; the model needs lookback = {L}")
    obs = scaler_from_state(state["scaler"]).transform(series.values(state["observed"]))
    future_index = pd.date_range(series.index[-1], periods=H + 1, freq=freq)[1:]
    index = series.index.append(future_index)  # (T + H,)
    obs = np.concatenate([obs, np.full((H, obs.shape[1]), np.nan)])  # future unknown
    known = None
    if state["n_known"]:
        csv_known = None
        if state["known"]:
            future = future_known.set_axis(future_index)
            csv_known = pd.concat([series.frame[state["known"]], future])
        frame = known_features(index, freq, csv_known, state["calendar"])
        known = scaler_from_state(state["known_scaler"]).transform(frame.to_numpy())
    inputs = obs if known is None else np.concatenate([obs, known], axis=1)
    times_ns = index.as_unit("ns").asi8
    return _WithOrigins(WindowDataset(inputs, obs, L, H, 1, known, source=series.source), times_ns)


class _WithOrigins:
    """Batches of a :class:`WindowDataset` plus ``origin_ns``: the last observed timestamp."""

    def __init__(self, windows: WindowDataset, times_ns: np.ndarray) -> None:
        self.windows = windows
        self.times_ns = torch.as_tensor(times_ns)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index) -> dict[str, Tensor]:
        batch = self.windows[index]
        batch["origin_ns"] = self.times_ns[batch["start"] + self.windows.lookback - 1]
        return batch


def forecast_frame(
    forecast: Tensor, origin_ns: Tensor, state: Mapping[str, Any], quantiles: tuple[float, ...] = ()
) -> pd.DataFrame:
    """(H, C_out[, Q]) scaled forecast -> frame on the future timestamps, original units.

    Columns: one per target, plus ``<target>_q<level>`` per quantile.
    """
    H = state["horizon"]
    origin = pd.Timestamp(int(origin_ns))
    index = pd.date_range(origin, periods=H + 1, freq=state["freq"])[1:]
    index.name = state["time_column"]
    scaler = scaler_from_state(state["scaler"])
    targets = state["targets"]
    channels = list(range(len(targets)))
    y = forecast.double().numpy()
    columns: dict[str, np.ndarray] = {}
    point = y[..., quantiles.index(0.5)] if quantiles else y
    point = scaler.inverse_transform(point, channels)
    for c, name in enumerate(targets):
        columns[name] = point[:, c]
    for j, q in enumerate(quantiles):
        level = scaler.inverse_transform(y[..., j], channels)
        for c, name in enumerate(targets):
            columns[f"{name}_q{q:g}"] = level[:, c]
    return pd.DataFrame(columns, index=index)
