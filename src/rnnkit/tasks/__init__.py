"""The registry of tasks: one entry per task feeds the command line, the docs and the tests.

An entry names the module holding the task (imported only when the task is used, so that
``rnnkit --help`` stays fast); that module defines ``TASK``, an instance of a
:class:`rnnkit.train.Task` subclass. To add a task, write ``rnnkit/tasks/NAME.py`` and one
:func:`register` call below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from rnnkit.config import ConfigError, unknown_key_message


@dataclass(frozen=True)
class TaskInfo:
    """What the command line shows about a task before importing it.

    Attributes:
        name: ``rnnkit NAME ...``.
        summary: one line.
        example: one command that runs out of the box.
        module: the module that defines ``TASK``.
    """

    name: str
    summary: str
    example: str
    module: str


TASKS: dict[str, TaskInfo] = {}


def register(info: TaskInfo) -> None:
    """Add a task to the registry (names are unique)."""
    if info.name in TASKS:
        raise ValueError(f"task {info.name!r} is already registered")
    TASKS[info.name] = info


def get_task(name: str):
    """The task instance registered as ``name`` (imports its module)."""
    if name not in TASKS:
        raise ConfigError(unknown_key_message(name, sorted(TASKS)).replace("key", "task", 1))
    return importlib.import_module(TASKS[name].module).TASK


register(
    TaskInfo(
        name="classify",
        summary="Sequence classification: recurrent encoder + linear head.",
        example="rnnkit classify train --dataset digits --out runs/digits",
        module="rnnkit.tasks.classify",
    )
)
register(
    TaskInfo(
        name="lm",
        summary="Language modelling: next character or word, then text generation.",
        example="rnnkit lm train --out runs/shakespeare",
        module="rnnkit.tasks.lm",
    )
)
register(
    TaskInfo(
        name="forecast",
        summary="Time-series forecasting: windows -> multi-step forecasts beside baselines.",
        example=(
            "rnnkit forecast train --data "
            "../shared/datasets/airline-passengers/airline-passengers.csv --data.time_column Month"
            " --target Passengers --lookback 24 --horizon 12 --out runs/air"
        ),
        module="rnnkit.tasks.forecast",
    )
)
register(
    TaskInfo(
        name="anomaly",
        summary=(
            "Time-series anomaly detection: RNN autoencoder, forecaster, OC-SVM, Isolation Forest."
        ),
        example=(
            "rnnkit anomaly train "
            "--data ../shared/datasets/nab/data/realKnownCause/nyc_taxi.csv --out runs/taxi"
        ),
        module="rnnkit.tasks.anomaly",
    )
)
