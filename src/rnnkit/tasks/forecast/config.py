"""The forecast task's settings: the series and its windows, the network, the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName
from rnnkit.train import OptimConfig, TrainConfig

from .report import BASELINES


@dataclass(frozen=True)
class ForecastData(Section):
    """Where the series comes from, its columns, split, scaling and windows."""

    csv: str = option("", "CSV file: a timestamp column and numeric value columns")
    ett: str = option("", "or an ETT data set (ETTh1, ETTh2, ETTm1, ETTm2), Informer split")
    data_dir: str | None = option(None, "data directory for --data.ett ($RNNKIT_DATA, else cache)")
    time_column: str = option("date", "name of the timestamp column")
    id_column: str = option(
        "",
        "long format: the column naming each row's series; one global model learns from all "
        "of them, each split and scaled on its own",
    )
    target: tuple[str, ...] = option((), "target column(s); mode M defaults to every column")
    covariates: tuple[str, ...] = option((), "past-observed covariates (M, MS: default all)")
    known: tuple[str, ...] = option((), "known-future covariate columns (e.g. a holiday flag)")
    calendar: bool = option(False, "add calendar features (hour, weekday...) as known-future")
    mode: Literal["S", "M", "MS"] = option("S", "S univariate, M all->all, MS all->target")
    freq: str = option("", "pandas frequency alias (h, 15min, D, MS...); inferred when empty")
    fill: Literal["error", "ffill", "interpolate"] = option("error", "policy for NaNs and gaps")
    lookback: int = option(96, "past steps a forecast sees (L)", low=1)
    horizon: int = option(24, "future steps forecast at once (H)", low=1)
    val: float = option(0.1, "validation share (< 1) or rows (>= 1) after train", low=0)
    test: float = option(0.2, "test share (< 1) or rows (>= 1) at the end", low=0)
    scaler: Literal["standard", "minmax", "none"] = option("standard", "fitted on train rows")
    train_stride: int = option(1, "take every k-th training window (faster epochs)", low=1)
    eval_stride: int = option(1, "every k-th validation/test window (1: all, the protocol)", low=1)


@dataclass(frozen=True)
class ForecastModel(Section):
    """The network: a recurrent encoder and a multi-step decoder."""

    cell: CellName = option("lstm", "recurrent cell (rnnkit.nn)")
    hidden_size: int = option(64, "hidden units per layer", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    dropout: float = option(0.0, "dropout between recurrent layers", low=0, high=1)
    strategy: Literal["direct", "recursive", "seq2seq", "segment"] = option(
        "direct", "multi-step strategy (segment: SegRNN, recurrence over segments of rows)"
    )
    segment_length: int = option(24, "segment strategy: rows per segment", low=1)
    linear_skip: bool = option(
        False, "direct/segment: add a linear map of the normalised lookback (NLinear) to the output"
    )
    head_dropout: float = option(
        0.0, "dropout before the output layer (direct, segment)", low=0, high=1
    )
    norm: Literal["none", "last", "mean"] = option("last", "per-window instance normalisation")
    quantiles: tuple[float, ...] = option((), "e.g. 0.1,0.5,0.9 for intervals (pinball loss)")
    loss: Literal["mse", "mae", "huber"] = option("mse", "point loss (without quantiles)")
    teacher_forcing: float = option(0.5, "seq2seq: chance of feeding the true value", low=0, high=1)
    channel_independent: bool = option(False, "mode M: one shared network per channel")


@dataclass(frozen=True)
class ForecastEval(Section):
    """The final test report: baselines, plots."""

    baselines: tuple[str, ...] = option(BASELINES, "baselines reported beside the model")
    arima_order: tuple[int, ...] = option((2, 1, 1), "ARIMA (p, d, q)", low=0)
    max_fit: int = option(2000, "ARIMA/ETS: fit on at most the last N training rows", low=10)
    plot_series: tuple[str, ...] = option((), "targets to plot (default: the first)")


@dataclass(frozen=True)
class ForecastConfig:
    """Time-series forecasting: any CSV or ETT, multi-step, beside classical baselines."""

    data: ForecastData = ForecastData()
    model: ForecastModel = ForecastModel()
    eval: ForecastEval = ForecastEval()
    optim: OptimConfig = OptimConfig(clip_norm=1.0)
    train: TrainConfig = TrainConfig(epochs=10, early_stopping=3)
