"""The one training engine of rnnkit: loops, checkpoints, run directories, metrics, tuning.

A task plugs in by subclassing :class:`Task` (data, model, loss, metrics, predictions);
:func:`fit` trains it, :func:`load_run` / :func:`evaluate_run` / :func:`predict_run` use a
finished run, :func:`tune` searches hyper-parameters. See ``docs/engine.md``.

``fit`` and ``tune`` import Lightning (about 5 s); they load on first use so that evaluating,
predicting and ``rnnkit --help`` start fast.
"""

from typing import TYPE_CHECKING, Any

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .evaluation import collect, evaluate, predict
from .inference import LoadedRun, evaluate_run, load_run, predict_run
from .interrupt import TrainingInterruptedError
from .metrics import classification_metrics, confusion_matrix, regression_metrics
from .optim import build_optimizer, clip_gradients, penalty
from .rundir import RunDir, default_run_dir
from .schedules import LRSchedule
from .settings import OptimConfig, TrainConfig
from .task import STANDARD_ACTIONS, Context, Inputs, Step, Task, TaskData
from .tbptt import StreamBatches, detach_state, split_time

if TYPE_CHECKING:
    from .engine import FitResult, fit
    from .search import TuneResult, tune

_LAZY = {"fit": "engine", "FitResult": "engine", "tune": "search", "TuneResult": "search"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rnnkit.train' has no attribute {name!r}")


__all__ = [
    "STANDARD_ACTIONS",
    "Checkpoint",
    "CheckpointError",
    "Context",
    "FitResult",
    "Inputs",
    "LRSchedule",
    "LoadedRun",
    "OptimConfig",
    "RunDir",
    "Step",
    "StreamBatches",
    "Task",
    "TaskData",
    "TrainingInterruptedError",
    "TrainConfig",
    "TuneResult",
    "build_optimizer",
    "classification_metrics",
    "clip_gradients",
    "collect",
    "confusion_matrix",
    "default_run_dir",
    "detach_state",
    "evaluate",
    "evaluate_run",
    "fit",
    "load_checkpoint",
    "load_run",
    "penalty",
    "predict",
    "predict_run",
    "regression_metrics",
    "save_checkpoint",
    "split_time",
    "tune",
]
