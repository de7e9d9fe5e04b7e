"""``classify``: one label per sequence, from a recurrent encoder and a linear head.

Model: :class:`SequenceEncoder` (any ``rnnkit.nn`` layer, uni- or bidirectional, pooled by the
last state, the mean of the outputs, or attention over them) then ``Linear(D*H, C)``.

Data: ``--dataset digits`` (built in: scikit-learn's 8x8 digits read row by row, 8 steps of 8
features; a stratified test split is held out) or ``--data FILE`` (``.npz`` or ``.csv``, see
:mod:`rnnkit.data.files`). A validation split is carved from train when the file has none.
Features are standardised with the training split's per-feature mean and standard deviation,
which are saved with the checkpoint (with the class names) and reused to predict.

Shapes: N sequences, T steps, F features, D directions, H hidden size, C classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit.nn as rnn
from rnnkit.config import Section, option
from rnnkit.data import Sequences, TensorBatches, length_mask, load_digits, load_sequences, split
from rnnkit.train import OptimConfig, Step, Task, TaskData, TrainConfig, classification_metrics
from rnnkit.train.plots import plot_confusion


# ------------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class ClassifyData(Section):
    """Where the sequences come from and how they are split and scaled."""

    dataset: Literal["digits"] = option("digits", "built-in data set, used when data.path is empty")
    path: str = option("", "an .npz or .csv file of labelled sequences (overrides data.dataset)")
    val_fraction: float = option(
        0.1,
        "share of train carved off for validation when there is no val split",
        low=0,
        low_open=True,
        high=0.9,
    )
    test_fraction: float = option(
        0.2, "share held out for testing from a built-in data set", low=0, low_open=True, high=0.9
    )
    normalize: Literal["feature", "global", "none"] = option(
        "feature",
        "standardise with the training mean and std per feature, over all features, or not",
    )
    seed: int = option(0, "seed of the random splits", low=0)


@dataclass(frozen=True)
class EncoderConfig(Section):
    """The recurrent encoder and the classification head."""

    cell: Literal["lstm", "gru", "rnn"] = option("gru", "recurrent layer type (rnnkit.nn)")
    hidden_size: int = option(64, "hidden units per direction", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1)
    bidirectional: bool = option(True, "also read each sequence backwards")
    dropout: float = option(0.0, "dropout between recurrent layers", low=0, high=0.99)
    recurrent_dropout: float = option(
        0.0, "variational dropout on the recurrent state", low=0, high=0.99
    )
    layer_norm: bool = option(False, "layer-normalised cells")
    pooling: Literal["last", "mean", "attention"] = option(
        "last", "how the outputs become one vector"
    )
    head_dropout: float = option(0.3, "dropout before the linear head", low=0, high=0.99)


@dataclass(frozen=True)
class ClassifyConfig:
    """Sequence classification: a recurrent encoder and a linear head."""

    data: ClassifyData = ClassifyData()
    model: EncoderConfig = EncoderConfig()
    optim: OptimConfig = OptimConfig(lr=1e-2, schedule="cosine", warmup_epochs=1.0)
    # one thread: for models this small, a second one costs more in synchronisation than it gains
    train: TrainConfig = TrainConfig(epochs=40, batch_size=64, early_stopping=12, threads=1)


# -------------------------------------------------------------------------------------- model
class SequenceEncoder(nn.Module):
    """Encode (N, T, F) sequences with their lengths into (N, D*H) vectors.

    Args:
        input_size: F.
        config: the layer type, sizes, direction, dropouts and pooling.

    Pooling: ``last`` concatenates the last layer's final states of both directions (taken at
    each sequence's last real step); ``mean`` averages the outputs over real steps;
    ``attention`` weights them by a learned score, softmax over real steps.
    """

    def __init__(self, input_size: int, config: EncoderConfig) -> None:
        super().__init__()
        layer = {"lstm": rnn.LSTM, "gru": rnn.GRU, "rnn": rnn.RNN}[config.cell]
        self.rnn = layer(
            input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout,
            bidirectional=config.bidirectional,
            layer_norm=config.layer_norm,
            recurrent_dropout=config.recurrent_dropout,
        )
        self.directions = 2 if config.bidirectional else 1
        self.output_size = self.directions * config.hidden_size
        self.pooling = config.pooling
        self.score = nn.Linear(self.output_size, 1) if config.pooling == "attention" else None

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        out, state = self.rnn(x, lengths=lengths)  # out (N, T, D*H)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, N, H)
            return torch.cat(list(h_n[-self.directions :]), dim=-1)  # (N, D*H)
        mask = (
            length_mask(lengths.to(x.device), x.shape[1])
            if lengths is not None
            else torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        ).unsqueeze(-1)  # (N, T, 1)
        if self.pooling == "mean":
            return (out * mask).sum(1) / mask.sum(1)
        scores = self.score(out).masked_fill(~mask, float("-inf"))  # (N, T, 1)
        return (torch.softmax(scores, dim=1) * out).sum(1)


class SequenceClassifier(nn.Module):
    """:class:`SequenceEncoder` then dropout and ``Linear(D*H, C)``: (N, T, F) -> (N, C) logits."""

    def __init__(self, input_size: int, num_classes: int, config: EncoderConfig) -> None:
        super().__init__()
        self.encoder = SequenceEncoder(input_size, config)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.head(self.dropout(self.encoder(x, lengths)))


# --------------------------------------------------------------------------------------- task
class ClassifyTask(Task[ClassifyConfig]):
    """Sequence classification on numeric sequences."""

    name = "classify"
    config_class = ClassifyConfig
    maximize = frozenset({"accuracy", "precision", "recall", "f1"})
    aliases = {"dataset": "data.dataset", "data": "data.path"}
    search_space = {
        "optim.lr": {"low": 1e-3, "high": 3e-2, "log": True},
        "model.hidden_size": [32, 64, 128],
        "model.cell": ["lstm", "gru"],
    }

    def load_data(self, config: ClassifyConfig) -> TaskData:
        d = config.data
        if d.path:
            splits = load_sequences(d.path)
            train = splits.get("train", splits.get(""))
            if train is None or train.y is None:
                raise ValueError(
                    f"{d.path}: needs labelled training sequences (x_train and y_train)"
                )
            val, test = splits.get("val"), splits.get("test")
        else:
            train, test = split(load_digits(), d.test_fraction, d.seed)
            val = None
        if val is None:
            train, val = split(train, d.val_fraction, d.seed + 1)
        labelled = [s for s in (train, val, test) if s is not None]
        classes = sorted({v.item() for s in labelled for v in s.y})
        state = {
            "num_features": train.num_features,
            "classes": classes,
            **_scaler(train, d.normalize),
        }
        return TaskData(
            train=self._batches(train, state, "train"),
            val=self._batches(val, state, "val"),
            test=None if test is None else self._batches(test, state, "test"),
            state=state,
        )

    def build_model(self, config: ClassifyConfig, state: dict[str, Any]) -> nn.Module:
        return SequenceClassifier(state["num_features"], len(state["classes"]), config.model)

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        if "y" not in batch:
            raise ValueError("classify: these sequences have no labels to compute a loss with")
        logits = model(batch["x"], batch["lengths"])  # (N, C)
        loss = F.cross_entropy(logits, batch["y"])
        return Step(loss, {"logits": logits.detach(), "target": batch["y"]})

    def metrics(self, outputs: dict[str, Tensor]) -> dict[str, Any]:
        logits = outputs["logits"]
        return classification_metrics(logits.argmax(1), outputs["target"], logits.shape[1])

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"probs": torch.softmax(model(batch["x"], batch["lengths"]), dim=1)}

    def read_inputs(
        self, path: Path, config: ClassifyConfig, state: dict[str, Any]
    ) -> TensorBatches:
        splits = load_sequences(path)
        name = next((s for s in ("", "test", "val", "train") if s in splits), None)
        seqs = splits[name]
        if seqs.num_features != state["num_features"]:
            raise ValueError(
                f"{path}: sequences have {seqs.num_features} features, the model was trained "
                f"on {state['num_features']}"
            )
        return self._batches(seqs, state, f"{path}")

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], state: dict[str, Any]
    ) -> None:
        classes = state["classes"]
        probs = predictions["probs"].numpy()
        with Path(path).open("w") as f:
            f.write(
                ",".join(["index", "prediction", "confidence", *(f"p_{c}" for c in classes)]) + "\n"
            )
            for i, p in enumerate(probs):
                k = int(p.argmax())
                f.write(
                    ",".join([str(i), str(classes[k]), f"{p[k]:.6f}", *(f"{v:.6f}" for v in p)])
                    + "\n"
                )

    def report(
        self,
        run_dir: Path,
        split: str,
        outputs: dict[str, Tensor],
        metrics: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        if split in ("validation", "test"):
            labels = [str(c) for c in state["classes"]]
            title = f"{split}: accuracy {metrics['accuracy']:.4f}"
            plot_confusion(metrics["confusion"], labels, run_dir / f"confusion_{split}.png", title)

    # ---------------------------------------------------------------------------- helpers
    @staticmethod
    def _batches(seqs: Sequences, state: dict[str, Any], where: str) -> TensorBatches:
        """Scale features, map labels to class indices, and hold it all as tensors."""
        x = seqs.x
        if state.get("mean") is not None:
            mean = np.asarray(state["mean"], dtype=np.float32)
            std = np.asarray(state["std"], dtype=np.float32)
            real = np.arange(x.shape[1])[None, :, None] < seqs.lengths[:, None, None]
            x = np.where(real, (x - mean) / std, 0.0).astype(np.float32)  # padding stays 0
        tensors = {"x": torch.from_numpy(x), "lengths": torch.from_numpy(seqs.lengths)}
        if seqs.y is not None:
            index = {c: i for i, c in enumerate(state["classes"])}
            unknown = sorted({v.item() for v in seqs.y} - set(index))
            if unknown:
                raise ValueError(
                    f"{where}: labels {unknown[:5]} are not among the classes {state['classes']}"
                )
            tensors["y"] = torch.tensor([index[v.item()] for v in seqs.y], dtype=torch.long)
        return TensorBatches(tensors, time_keys=("x",))


def _scaler(train: Sequences, normalize: str) -> dict[str, Any]:
    """Mean and std (per feature, or one for all) over the training split's real steps."""
    if normalize == "none":
        return {"mean": None, "std": None}
    real = np.arange(train.x.shape[1])[None, :] < train.lengths[:, None]  # (N, T)
    values = train.x[real]  # (steps, F)
    F_ = values.shape[1]
    if normalize == "global":
        mean, std = np.full(F_, values.mean()), np.full(F_, values.std())
    else:
        mean, std = values.mean(0), values.std(0)
    return {"mean": mean.tolist(), "std": np.where(std > 1e-8, std, 1.0).tolist()}


TASK = ClassifyTask()
