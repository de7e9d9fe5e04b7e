"""Time-series anomaly detection with recurrent networks, evaluated NAB-style.

A detector composes a scorer — the forecasting task's LSTM (forecast error), an LSTM window
autoencoder (reconstruction error), both at once (the default ensemble: their log errors
standardised on the calibration records and averaged), or GRU/RNN encoder features + One-Class
SVM / Isolation Forest — with one scaling, threshold and event rule (:mod:`.detector`).
Networks train through :mod:`rnnkit.train` (:mod:`.task`); thresholds are fitted after training
on held-out records only (:mod:`.thresholds`); :mod:`.nab` scores detections against labelled
windows (event precision/recall/F1, the NAB score, Orion's overlap counts); :mod:`.plots` draws
a scored series.

Command line: ``rnnkit anomaly train | detect | evaluate`` (``fit`` is another name for
``train``; :mod:`.commands`).
"""

from .commands import detect, evaluate
from .config import AnomalyConfig, AnomalyData, DetectorModel, DetectRule
from .detector import Detection, Detector
from .nab import (
    PROFILES,
    Counts,
    FileScore,
    Summary,
    event_intervals,
    events_from_flags,
    overlap_counts,
    score_file,
    summarise,
)
from .task import TASK, AnomalyTask, fit_detector, load_detector, read_data, split_rows
from .thresholds import (
    DynamicThreshold,
    LikelihoodThreshold,
    QuantileThreshold,
    RobustThreshold,
    SigmaThreshold,
    hundman_epsilon,
    make_threshold,
)

AnomalyTask.commands = {"detect": detect, "evaluate": evaluate}

__all__ = [
    "PROFILES",
    "TASK",
    "AnomalyConfig",
    "AnomalyData",
    "AnomalyTask",
    "Counts",
    "Detection",
    "Detector",
    "DetectorModel",
    "DetectRule",
    "DynamicThreshold",
    "FileScore",
    "LikelihoodThreshold",
    "QuantileThreshold",
    "RobustThreshold",
    "SigmaThreshold",
    "Summary",
    "event_intervals",
    "events_from_flags",
    "fit_detector",
    "hundman_epsilon",
    "load_detector",
    "make_threshold",
    "overlap_counts",
    "read_data",
    "score_file",
    "split_rows",
    "summarise",
]
