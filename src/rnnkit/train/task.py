"""What a task supplies to the engine: data, a model, a loss, metrics and predictions.

A task is a small class of hooks; the engine (:mod:`rnnkit.train.engine`) owns every loop.

Batches are dicts of tensors with a leading batch axis (what :class:`rnnkit.data.TensorBatches`
returns). A recurrent ``state`` flows through :meth:`Task.step` only when the engine carries it:
between the chunks of a truncated-BPTT batch, or between consecutive batches of a
:class:`~rnnkit.train.tbptt.StreamBatches` stream. Otherwise it is None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from torch import Tensor, nn

C = TypeVar("C")


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
            :meth:`Task.build_model` and the predict hooks, so a checkpoint is self-contained.
    """

    train: Any
    val: Any | None
    test: Any | None
    state: dict[str, Any] = field(default_factory=dict)


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


class Task(Generic[C]):
    """Base class of every task. Subclasses set the class attributes and implement the hooks.

    Class attributes:
        name: the command-line name (``rnnkit NAME train``).
        config_class: a frozen dataclass with sections including ``optim``
            (:class:`~rnnkit.train.OptimConfig`) and ``train`` (:class:`~rnnkit.train.TrainConfig`).
        maximize: metric names where higher is better (``train.mode=auto`` uses it).
        aliases: short flags for dotted keys, e.g. ``{"dataset": "data.dataset"}``.
        search_space: the default hyper-parameter space for ``tune`` (see
            :func:`rnnkit.train.tune.suggest`).
        actions: extra command-line actions, name -> a Typer-annotated function (its
            docstring is the help), e.g. ``{"generate": generate_command}`` for
            ``rnnkit lm generate``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    maximize: ClassVar[frozenset[str]] = frozenset()
    aliases: ClassVar[dict[str, str]] = {}
    search_space: ClassVar[dict[str, Any]] = {}
    actions: ClassVar[dict[str, Callable[..., None]]] = {}

    # ---------------------------------------------------------------------- required hooks
    def load_data(self, config: C) -> TaskData:
        """Read, split and prepare the data; fit any vocabulary or scaler on the training split."""
        raise NotImplementedError

    def build_model(self, config: C, state: dict[str, Any]) -> nn.Module:
        """A plain ``nn.Module`` built from the config and the data state."""
        raise NotImplementedError

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        """The loss (and outputs for metrics) of one batch; used for training and evaluation."""
        raise NotImplementedError

    def metrics(self, outputs: dict[str, Tensor]) -> dict[str, float]:
        """Metrics of one evaluation from its concatenated outputs (the engine adds ``loss``)."""
        return {}

    # ---------------------------------------------------------------------- optional hooks
    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inference outputs of one batch (batch axis first)."""
        raise NotImplementedError(f"task {self.name!r} does not predict")

    def read_inputs(self, path: Path, config: C, state: dict[str, Any]) -> Any:
        """Batches to predict from a user's input file (``rnnkit TASK predict --input``)."""
        raise NotImplementedError(f"task {self.name!r} does not read prediction inputs")

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], state: dict[str, Any]
    ) -> None:
        """Write the concatenated predictions (``rnnkit TASK predict --output``)."""
        raise NotImplementedError(f"task {self.name!r} does not write predictions")

    def report(
        self,
        run_dir: Path,
        split: str,
        outputs: dict[str, Tensor],
        metrics: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        """Write extra artefacts of a final evaluation (plots) into the run directory."""
