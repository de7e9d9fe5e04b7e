"""Time-series anomaly detection with recurrent networks, evaluated NAB-style.

Four detectors share one windowing, scaling, threshold and event rule
(:mod:`.detectors`): an LSTM window autoencoder (reconstruction error), an LSTM forecaster
(forecast error), GRU encoder features + One-Class SVM, RNN encoder features + Isolation
Forest. Networks train through :mod:`rnnkit.train` (:mod:`.task`); thresholds are fitted on
training data only (:mod:`.thresholds`); :mod:`.nab` scores detections against labelled windows
(event precision/recall/F1 and the NAB score); :mod:`.data` reads CSV series, labels and the NAB
corpus; :mod:`.plots` draws a scored series.

Command line: ``rnnkit anomaly fit | detect | evaluate`` (``fit`` is another name for ``train``).
"""

from .data import LabelledSeries, Series, load_nab, nab_root, read_series, read_windows
from .detectors import Detection, Detector
from .nab import (
    PROFILES,
    FileScore,
    Summary,
    events_from_flags,
    probation_length,
    score_file,
    summarise,
)
from .task import (
    TASK,
    AnomalyConfig,
    AnomalyData,
    AnomalyTask,
    DetectorModel,
    DetectRule,
    fit_detector,
)
from .thresholds import (
    DynamicThreshold,
    LikelihoodThreshold,
    QuantileThreshold,
    SigmaThreshold,
    hundman_epsilon,
    make_threshold,
)

__all__ = [
    "PROFILES",
    "TASK",
    "AnomalyConfig",
    "AnomalyData",
    "AnomalyTask",
    "Detection",
    "Detector",
    "DetectorModel",
    "DetectRule",
    "DynamicThreshold",
    "LikelihoodThreshold",
    "FileScore",
    "LabelledSeries",
    "QuantileThreshold",
    "Series",
    "SigmaThreshold",
    "Summary",
    "events_from_flags",
    "fit_detector",
    "hundman_epsilon",
    "load_nab",
    "make_threshold",
    "nab_root",
    "probation_length",
    "read_series",
    "read_windows",
    "score_file",
    "summarise",
]
