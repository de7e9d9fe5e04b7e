"""Time-series forecasting: ``rnnkit forecast train | evaluate | predict``.

Modules: :mod:`.data` (CSV/ETT -> scaled windows, modes S/M/MS), :mod:`.model` (the
:class:`Forecaster` network), :mod:`.baselines`, :mod:`.metrics`, :mod:`.report` (the test report
beside the baselines), :mod:`.plots`, :mod:`.task` (configuration and engine hooks). See
``docs/forecast.md``.
"""

from .config import ForecastConfig
from .model import Forecaster
from .task import TASK, ForecastTask

__all__ = ["TASK", "ForecastConfig", "ForecastTask", "Forecaster"]
