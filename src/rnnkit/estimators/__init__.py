"""rnnkit from Python: one estimator per task, over the same engine and run directory.

* :class:`Classifier` — sequences → class labels (scikit-learn's classifier API);
* :class:`Forecaster` — a DataFrame of one or many series → forecasts on timestamps;
* :class:`Detector` — a series → anomaly scores, flags and events;
* :class:`LanguageModel` — text → generation and perplexity;
* :func:`load` — a run directory (from the command line or ``save``) as its estimator.
"""

from __future__ import annotations

from pathlib import Path

from .base import Estimator
from .classifier import Classifier
from .detector import Detector
from .forecaster import Forecaster
from .language_model import LanguageModel

ESTIMATORS: dict[str, type[Estimator]] = {
    "classify": Classifier,
    "forecast": Forecaster,
    "anomaly": Detector,
    "lm": LanguageModel,
}


def load(path: str | Path, prefer: str = "best") -> Estimator:
    """The estimator of a run directory, trained (the task is the one the run belongs to)."""
    from rnnkit.tasks import open_run

    run = open_run(path, prefer)
    if run.task.name not in ESTIMATORS:
        raise ValueError(f"{path}: task {run.task.name!r} has no Python estimator")
    estimator = ESTIMATORS[run.task.name]._from_run(run)
    if isinstance(estimator, Classifier):
        import numpy as np

        estimator.classes_ = np.asarray(run.state["classes"])
    return estimator


__all__ = ["Classifier", "Detector", "Estimator", "Forecaster", "LanguageModel", "load"]
