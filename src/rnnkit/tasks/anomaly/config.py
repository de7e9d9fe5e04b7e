"""The anomaly task's settings: the series, the detector and the detection rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnkit.config import Section, option
from rnnkit.train import OptimConfig, TrainConfig

from .thresholds import make_threshold

DEFAULT_CELLS = {
    "ensemble": "lstm",
    "autoencoder": "lstm",
    "forecast": "lstm",
    "ocsvm": "gru",
    "iforest": "rnn",
}
FEATURE_METHODS = ("ocsvm", "iforest")  # scikit-learn detectors on the encoder's features


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
    duplicates: Literal["error", "keep"] = option(
        "error", "repeated timestamps: refuse, or keep every record (NAB)"
    )
    fill: Literal["error", "ffill", "interpolate"] = option(
        "error", "missing values: refuse, carry the last value forward, or interpolate"
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

    method: Literal["ensemble", "autoencoder", "forecast", "ocsvm", "iforest"] = option(
        "ensemble",
        "detector (ensemble: the forecaster and the autoencoder, their log errors each "
        "standardised on the calibration records, averaged)",
    )
    cell: Literal["default", "lstm", "gru", "rnn"] = option(
        "default", "recurrent layer (default: gru for ocsvm, rnn for iforest, else lstm)"
    )
    window: int = option(32, "L: records per window", low=2)
    hidden_size: int = option(32, "H: hidden units", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    horizon: int = option(1, "P: records the forecaster predicts (forecast, ensemble)", low=1)
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
        """The recurrent layer type of this detector."""
        return DEFAULT_CELLS[self.method] if self.cell == "default" else self.cell

    @property
    def center_mode(self) -> str:
        """How windows lose their level: ``none``, ``last`` (forecast) or ``mean``."""
        if not self.center:
            return "none"
        return "last" if self.method == "forecast" else "mean"

    @property
    def forecasts(self) -> bool:
        """Whether the detector's windows hold forecast targets (L + P records)."""
        return self.method in ("forecast", "ensemble")


@dataclass(frozen=True)
class DetectRule(Section):
    """How scores become detections: smoothing, threshold, events.

    Lengths that depend on the series (the thresholds' history, the gap that merges flags into
    one event) default to shares of the records the detector learnt from (NAB's probationary
    period: 15% of the series, at most 750), so one rule fits series of any length and rate.
    Lengths that depend on how long one anomaly stays in the scores (the robust threshold's
    ``rejoin`` and ``persist``) count the detector's windows: a record sways the scores of the
    windows that hold it.
    """

    smoothing: int = option(1, "EWMA span of the scores before the threshold (1: none)", low=1)
    threshold: Literal["robust", "quantile", "sigma", "dynamic", "likelihood"] = option(
        "robust",
        "median + k·MAD of the recent log scores, quantile of calibration scores, mean + k·std, "
        "Hundman et al.'s dynamic threshold, or Ahmad et al.'s anomaly likelihood",
    )
    q: float = option(0.99, "quantile (threshold=quantile)", low=0, low_open=True, high=1)
    k: float = option(
        3.5, "robust: MADs (×1.4826) above the median; sigma: standard deviations", low=0,
        low_open=True,
    )  # fmt: skip
    span: int = option(1, "robust threshold: EWMA span of the log scores (1: none)", low=1)
    margin: float = option(
        1.5, "the threshold is multiplied by this (quantile, sigma, dynamic)", low=0, low_open=True
    )
    history: int = option(
        0,
        "scores the robust, dynamic and likelihood thresholds look back on "
        "(0: history_share × the records learnt from)",
        low=0,
    )
    history_share: float = option(
        8.0, "history when history is 0, in records learnt from", low=0, low_open=True
    )
    step: int = option(100, "records between updates of the robust and dynamic thresholds", low=1)
    p: float = option(
        0.13,
        "dynamic threshold's pruning: a flag must beat the largest normal score by this share",
        low=0,
        high=1,
    )
    skip_flagged: bool = option(
        True,
        "robust and dynamic thresholds: leave flagged scores out of their history (so one "
        "anomaly does not raise the threshold over the next)",
    )
    rejoin: float = option(
        2.0,
        "robust threshold: flagged scores rejoin its history this many windows (model.window "
        "records each) later (0: never)",
        low=0,
    )
    persist: float = option(
        8.0,
        "robust threshold: when half of the last persist windows of records are flagged, the "
        "change is the new normal and the history restarts at its first flag (0: never)",
        low=0,
    )
    short: int = option(10, "likelihood threshold: records in the short-term mean", low=1)
    epsilon: float = option(
        1e-5, "likelihood threshold: flag when the tail probability is below this", low=0,
        low_open=True, high=0.5,
    )  # fmt: skip
    min_gap: int = option(
        0, "flags closer than this many records form one event (0: event_gap × records learnt "
        "from)", low=0,
    )  # fmt: skip
    event_gap: float = option(
        1.0, "min_gap when min_gap is 0, in records learnt from", low=0, low_open=True
    )

    def history_for(self, train_rows: int) -> int:
        """The thresholds' history in records for a detector that learnt from ``train_rows``."""
        if not self.history and train_rows < 1:
            raise ValueError("detect.history is 0 (a share of the training records), so give "
                             f"train_rows >= 1, got {train_rows}")  # fmt: skip
        return self.history or max(10, round(self.history_share * train_rows))

    def gap_for(self, train_rows: int) -> int:
        """The event gap in records for a detector that learnt from ``train_rows``."""
        return self.min_gap or max(1, round(self.event_gap * train_rows))

    def windows_for(self, window: int) -> tuple[int, int]:
        """(rejoin, persist) in records for a detector whose window is ``window`` records."""
        if (self.rejoin or self.persist) and window < 1:
            raise ValueError("detect.rejoin and detect.persist count windows, so give the "
                             f"detector's window >= 1, got {window}")  # fmt: skip
        persist = max(4, round(self.persist * window)) if self.persist else 0
        return round(self.rejoin * window), persist

    def make_threshold(self, train_rows: int = 0, window: int = 0):
        """The (unfitted) threshold of this rule for a detector that learnt from ``train_rows``
        records through windows of ``window`` records."""
        history = self.history_for(train_rows)
        if self.threshold == "robust":
            rejoin, persist = self.windows_for(window)
            return make_threshold(
                "robust", k=self.k, history=history, step=self.step, span=self.span,
                skip_flagged=self.skip_flagged, rejoin=rejoin, persist=persist,
            )  # fmt: skip
        if self.threshold == "quantile":
            return make_threshold("quantile", q=self.q, margin=self.margin)
        if self.threshold == "sigma":
            return make_threshold("sigma", k=self.k, margin=self.margin)
        if self.threshold == "likelihood":
            return make_threshold(
                "likelihood", history=history, short=self.short, epsilon=self.epsilon
            )
        return make_threshold(
            "dynamic", history=history, step=self.step, p=self.p, margin=self.margin,
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
