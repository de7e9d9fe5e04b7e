"""The registry of tasks: one entry per task feeds the command line, the docs and the tests.

An entry names the module holding the task, imported only when the task is used so that
``rnnkit --help`` stays fast; that module defines ``TASK``, an instance of a
:class:`rnnkit.train.Task` subclass whose class attributes declare its actions, presets and
aliases. To add a task, write the package ``rnnkit/tasks/NAME/`` and one :func:`register` call
below (or call :func:`register` from your own code before running the command line).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnnkit.config import ConfigError, unknown_key_message

if TYPE_CHECKING:  # importing rnnkit.train loads torch: only when a task is used
    from rnnkit.train.task import Task


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


def get_task(name: str) -> Task:
    """The task instance registered as ``name`` (imports its module and checks its actions)."""
    if name not in TASKS:
        raise ConfigError(unknown_key_message(name, sorted(TASKS), "task"))
    task = importlib.import_module(TASKS[name].module).TASK
    check_task(task)
    return task


def check_task(task: Task) -> None:
    """Refuse a task whose declared actions cannot all run (a programming error, so TypeError)."""
    from rnnkit.train.task import STANDARD_ACTIONS, Task

    unknown = set(task.actions) - set(STANDARD_ACTIONS)
    if unknown:
        raise TypeError(f"task {task.name!r}: unknown standard actions {sorted(unknown)}")
    clash = set(task.actions) & set(task.commands)
    if clash:
        raise TypeError(
            f"task {task.name!r}: its own commands {sorted(clash)} reuse standard actions it "
            f"also lists; leave them out of Task.actions to replace them"
        )
    names = set(task.actions) | set(task.commands)
    for alias, target in task.action_aliases.items():
        if alias in names or target not in names:
            raise TypeError(f"task {task.name!r}: alias {alias!r} -> {target!r} does not fit")
    if "predict" in task.actions:
        for hook in ("predict", "read_inputs", "write_predictions"):
            if getattr(type(task), hook) is getattr(Task, hook):
                raise TypeError(f"task {task.name!r} lists predict but does not define {hook}")


def open_run(path, prefer: str = "best"):
    """A finished run of any task, loaded (:class:`rnnkit.train.LoadedRun`): the task is the
    one named in the checkpoint."""
    from rnnkit.train import load_checkpoint, load_run

    name = load_checkpoint(path, prefer).info.get("task")
    if name not in TASKS:
        raise ConfigError(f"{path}: the run belongs to task {name!r}, which is not registered")
    return load_run(get_task(name), path, prefer=prefer)


def action_names(task: Task) -> list[str]:
    """Every action of ``task`` as the command line lists it: standard, own, aliases."""
    return [*task.actions, *task.commands, *task.action_aliases]


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
register(
    TaskInfo(
        name="tag",
        summary="Sequence labelling: part of speech and named entities with a BiLSTM-CRF.",
        example="rnnkit tag train --preset ud-upos --data-dir ../shared/datasets --out runs/upos",
        module="rnnkit.tasks.tag",
    )
)
register(
    TaskInfo(
        name="memory",
        summary="Long-memory benchmarks: the adding and copying problems over T steps.",
        example="rnnkit memory train --problem adding --length 100 --out runs/adding",
        module="rnnkit.tasks.memory",
    )
)
register(
    TaskInfo(
        name="translate",
        summary="Translation: attentional encoder-decoder, beam search, sacreBLEU and chrF.",
        example="rnnkit translate train --data-dir ../shared/datasets --out runs/en-fr",
        module="rnnkit.tasks.translate",
    )
)
register(
    TaskInfo(
        name="text",
        summary="Document classification: embeddings, a BiLSTM/GRU, pooling, linear baselines.",
        example="rnnkit text train --preset imdb-quick --data-dir ../shared/datasets --out runs/q",
        module="rnnkit.tasks.text",
    )
)
register(
    TaskInfo(
        name="video",
        summary="Video: next frames (ConvLSTM on Moving MNIST) and clip classes (motion set).",
        example="rnnkit video train --preset moving-mnist --out runs/moving-mnist",
        module="rnnkit.tasks.video",
    )
)
