"""What a task supplies to the engine: data, a model, a loss, metrics, calibration and predictions.

A task is a class of *stateless* hooks: each one is a function of its arguments, and everything a
task fits on data (vocabulary, scaler, class names, a threshold) is returned as ``state`` and
saved beside every checkpoint, never kept on the task object. The engine
(:mod:`rnnkit.train.engine`) owns every loop and calls the hooks in this order::

    fit:       load_data -> build_model -> step (per batch) -> metrics (validation, per epoch)
               best weights -> step over each split -> calibrate -> metrics -> report
    evaluate:  load the run -> step over the test split or a user's file -> metrics
    predict:   load the run -> read_inputs -> predict (per batch) -> write_predictions

Batches are dicts of tensors with a leading batch axis (what :class:`rnnkit.data.TensorBatches`
returns). A recurrent ``state`` flows through :meth:`Task.step` only when the engine carries it:
between the chunks of a truncated-BPTT batch, or between consecutive batches of a
:class:`~rnnkit.train.tbptt.StreamBatches` stream. Otherwise it is None.

The class attributes declare the task to the one registry (:mod:`rnnkit.tasks`) that builds the
command line, its ``--help``, the docs and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from torch import Tensor, nn

C = TypeVar("C")

#: The actions the engine provides for every task that lists them in ``Task.actions``.
STANDARD_ACTIONS = ("train", "evaluate", "predict", "tune", "config")
SPLITS = ("train", "validation", "test")


@dataclass
class TaskData:
    """A task's prepared data.

    Attributes:
        train: the training batches (a :class:`rnnkit.data.TensorBatches` or
            :class:`rnnkit.train.tbptt.StreamBatches`).
        val: validation batches, or None (then ``train.monitor`` watches the training loss).
        test: test batches, or None.
        state: JSON-serialisable state fitted on the training data (vocabulary, scaler, class
            names, input sizes ...). It is saved beside every checkpoint and handed back to
            :meth:`Task.build_model` and the other hooks, so a checkpoint is self-contained.
        extra: what the data was prepared from and a report may need again (a series, its
            split); handed to the hooks through :class:`Context`, never saved.
    """

    train: Any
    val: Any | None
    test: Any | None
    state: dict[str, Any] = field(default_factory=dict)
    extra: Any = None

    def split(self, name: str) -> Any | None:
        """The batches of ``"train"``, ``"validation"`` or ``"test"``."""
        return {"train": self.train, "validation": self.val, "test": self.test}[name]


@dataclass
class Step:
    """What :meth:`Task.step` returns for one batch.

    Attributes:
        loss: scalar tensor, the mean loss over the batch (gradients flow through it).
        outputs: detached tensors with a leading batch axis, concatenated over an evaluation
            and passed to :meth:`Task.metrics` (e.g. predictions and targets).
        state: the recurrent state after the batch, for the engine to carry (detached) into
            the next chunk; None when nothing is carried.
        weight: how many items ``loss`` averages over (default: the batch size); the engine
            weights batch losses by it to report an exact epoch mean.
    """

    loss: Tensor
    outputs: dict[str, Tensor] = field(default_factory=dict)
    state: Any = None
    weight: float | None = None


@dataclass(frozen=True)
class Context:
    """Everything a hook is told besides its tensors.

    Attributes:
        config: the run's resolved configuration.
        state: the task state (fitted on the training data, plus what :meth:`Task.calibrate`
            returned once training ended).
        split: ``"train"``, ``"validation"``, ``"test"``, or ``"input"`` for a user's file.
        run_dir: the run directory artefacts go to, or None when nothing is to be written.
        data: the :class:`TaskData` the outputs came from (None for a user's file).
    """

    config: Any
    state: Mapping[str, Any]
    split: str = "test"
    run_dir: Path | None = None
    data: TaskData | None = None

    def for_split(self, split: str) -> Context:
        return replace(self, split=split)


@dataclass
class Inputs:
    """A user's data to evaluate or predict: the batches and a name for each item.

    Attributes:
        source: batches as the engine reads them (``TensorBatches``, a stream ...).
        names: one name per item (file names, sequence ids), written beside its prediction;
            None when the items have none.
        info: anything else the task's ``write_predictions`` needs about the file.
    """

    source: Any
    names: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Task(Generic[C]):
    """Base class of every task. Subclasses set the class attributes and implement the hooks.

    Class attributes:
        name: the command-line name (``rnnkit NAME train``).
        config_class: a frozen dataclass with sections including ``optim``
            (:class:`~rnnkit.train.OptimConfig`) and ``train`` (:class:`~rnnkit.train.TrainConfig`).
        actions: the standard actions the task supports (a subset of :data:`STANDARD_ACTIONS`);
            ``predict`` needs the three predict hooks.
        commands: the task's own actions, name -> a plain function whose typed parameters are
            its options and whose docstring is its help (e.g. ``lm generate``). A command may
            not reuse a standard action's name unless that action is left out of ``actions``.
        action_aliases: other names of actions, e.g. ``{"fit": "train"}``.
        maximize: metric names where higher is better (``train.mode=auto`` uses it).
        headline: the metrics printed after training and evaluation, in order.
        aliases: short flags for dotted keys, e.g. ``{"dataset": "data.dataset"}``.
        presets: named sets of settings (``--preset NAME``), applied over the defaults.
        search_space: the default hyper-parameter space for ``tune``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    actions: ClassVar[tuple[str, ...]] = STANDARD_ACTIONS
    commands: ClassVar[dict[str, Callable[..., Any]]] = {}
    action_aliases: ClassVar[dict[str, str]] = {}
    maximize: ClassVar[frozenset[str]] = frozenset()
    headline: ClassVar[tuple[str, ...]] = ("loss",)
    aliases: ClassVar[dict[str, str]] = {}
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    search_space: ClassVar[dict[str, Any]] = {}

    # ---------------------------------------------------------------------- required hooks
    def load_data(self, config: C) -> TaskData:
        """Read, split and prepare the data; fit any vocabulary or scaler on the training split."""
        raise NotImplementedError

    def build_model(self, config: C, state: Mapping[str, Any]) -> nn.Module:
        """A plain ``nn.Module`` built from the config and the task state."""
        raise NotImplementedError

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        """The loss (and outputs for metrics) of one batch; used for training and evaluation."""
        raise NotImplementedError

    # ---------------------------------------------------------------------- optional hooks
    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        """Metrics of one evaluation from its concatenated outputs (the engine adds ``loss``)."""
        return {}

    def calibrate(self, outputs: dict[str, dict[str, Tensor]], ctx: Context) -> dict[str, Any]:
        """Fit what is fitted after training (a threshold ...) from the best model's outputs.

        ``outputs`` maps each evaluated split to its concatenated step outputs. Returns entries
        to add to the task state (JSON values); the engine saves them with the best checkpoint.
        """
        return {}

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        """Write extra artefacts of a final evaluation (plots, tables) into ``ctx.run_dir``."""

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inference outputs of one batch (batch axis first)."""
        raise NotImplementedError(f"task {self.name!r} does not predict")

    def read_inputs(self, path: Path, config: C, state: Mapping[str, Any]) -> Inputs:
        """A user's file as batches (``evaluate --data`` with labels, ``predict --input``)."""
        raise NotImplementedError(f"task {self.name!r} does not read input files")

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        """Write the concatenated predictions to ``path``; return the number of rows written."""
        raise NotImplementedError(f"task {self.name!r} does not write predictions")
