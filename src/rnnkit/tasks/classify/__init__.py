"""``classify``: one label per sequence, from a recurrent encoder and a linear head.

Model (:mod:`.model`): :class:`SequenceEncoder` (any ``rnnkit.nn`` layer, uni- or bidirectional,
pooled by the last state, the mean of the outputs, or attention over them), optionally behind a
convolutional front end over images (``--model.frontend cnn``), then ``Linear(D*H, C)``.

Data (:mod:`.inputs`): ``--dataset digits`` (built in: scikit-learn's 8x8 digits read row by
row; a stratified test split is held out), ``--dataset mnist`` (any folder of MNIST-format IDX
files, read as ``--data.mode rows|pixels|permuted``), ``--dataset fsdd`` (spoken digits: WAV ->
log-mel/MFCC frames, the dataset's standard split) or ``--data FILE`` (``.npz`` or ``.csv``, see
:mod:`rnnkit.data.files`). A validation split is carved from train when the source has none.
Features are standardised with the training split's per-feature mean and standard deviation,
which are saved with the checkpoint (with the class names and how inputs were read) and reused
to predict on new files: PNG/NPY images, WAV recordings, or folders of them.

Presets (``--preset NAME``, flags still override): ``seed-mnist`` (the seed literature's
example), ``mnist-rows``, ``mnist-cnn`` and ``fsdd`` (the documented headline runs).

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

from rnnkit.config import Section, option
from rnnkit.data import Sequences, TensorBatches, split
from rnnkit.train import OptimConfig, Step, Task, TaskData, TrainConfig, classification_metrics
from rnnkit.train.plots import plot_confusion

from .inputs import load_splits, read_inputs
from .model import ConvColumns, EncoderConfig, SequenceClassifier, SequenceEncoder

__all__ = [
    "TASK",
    "ClassifyConfig",
    "ClassifyData",
    "ClassifyTask",
    "ConvColumns",
    "EncoderConfig",
    "SequenceClassifier",
    "SequenceEncoder",
]


# ------------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class ClassifyData(Section):
    """Where the sequences come from and how they are split and scaled."""

    dataset: Literal["digits", "mnist", "fsdd"] = option(
        "digits",
        "data set, used when data.path is empty: digits (built in), mnist (IDX images), fsdd "
        "(spoken digits)",
    )
    path: str = option("", "an .npz or .csv file of labelled sequences (overrides data.dataset)")
    data_dir: str = option(
        "",
        "folder of the data set's files (mnist: the 4 IDX files of any MNIST-format set; fsdd: "
        "fsdd_recordings.tar.gz) [default: $RNNKIT_DATA/NAME, else ~/.cache/rnnkit/NAME; "
        "MNIST is downloaded there with checksums when missing]",
    )
    mode: Literal["rows", "pixels", "permuted"] = option(
        "rows",
        "images as sequences: rows (H steps of W), pixels (H*W steps of 1), permuted (pixels "
        "in a fixed random order)",
    )
    permutation_seed: int = option(0, "seed of the pixel order of data.mode permuted", low=0)
    audio_features: Literal["logmel", "mfcc"] = option(
        "mfcc", "audio frames (25 ms hop 10 ms at 8 kHz): log-mel energies or MFCCs"
    )
    n_mels: int = option(40, "audio: mel bands", low=1)
    n_mfcc: int = option(20, "audio: MFCC coefficients (data.audio_features mfcc)", low=1)
    limit: int = option(
        0, "use a seeded random subset of this many train and test examples (0: all)", low=0
    )
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
class ClassifyConfig:
    """Sequence classification: a recurrent encoder and a linear head."""

    data: ClassifyData = ClassifyData()
    model: EncoderConfig = EncoderConfig()
    optim: OptimConfig = OptimConfig(lr=1e-2, schedule="cosine", warmup_epochs=1.0)
    # one thread: for models this small, a second one costs more in synchronisation than it gains
    train: TrainConfig = TrainConfig(epochs=40, batch_size=64, early_stopping=12, threads=1)


# ------------------------------------------------------------------------------------ presets
# A preset is a named set of settings, applied over the defaults and under --config and flags.
_ROW_LSTM = {
    "data.dataset": "mnist",
    "data.mode": "rows",
    "model.cell": "lstm",
    "model.hidden_size": 128,
    "model.bidirectional": False,
    "model.pooling": "last",
    "optim.name": "adam",
    "train.batch_size": 100,
    "train.early_stopping": 0,
    # one thread: on a busy 2-core machine two threads ran 20x slower (they wait for each other)
    "train.threads": 1,
}
PRESETS: dict[str, dict[str, Any]] = {
    # the seed literature's example: 2-layer LSTM 128, Adam 1e-3, batch 100, 5 epochs (97.74%)
    "seed-mnist": {
        **_ROW_LSTM,
        "model.num_layers": 2,
        "model.head_dropout": 0.0,
        "optim.lr": 1e-3,
        "optim.schedule": "none",
        "optim.warmup_epochs": 0.0,
        "train.epochs": 5,
    },
    # row-MNIST >= 99%: the same 2-layer LSTM, a higher peak rate with cosine decay, 10 epochs
    "mnist-rows": {
        **_ROW_LSTM,
        "model.num_layers": 2,
        "model.head_dropout": 0.1,
        "optim.lr": 2e-3,
        "optim.schedule": "cosine",
        "optim.warmup_epochs": 0.5,
        "optim.clip_norm": 1.0,
        "train.epochs": 10,
    },
    # CNN+RNN: two conv blocks (16, 32 channels), then a bidirectional LSTM over 7 feature columns
    "mnist-cnn": {
        **_ROW_LSTM,
        "model.frontend": "cnn",
        "model.conv_channels": 16,
        "model.bidirectional": True,
        "model.head_dropout": 0.2,
        "optim.lr": 2e-3,
        "optim.schedule": "cosine",
        "optim.warmup_epochs": 0.2,
        "train.batch_size": 64,
        "train.epochs": 3,
    },
    # spoken digits: MFCC frames -> bidirectional GRU, attention pooling
    "fsdd": {
        "data.dataset": "fsdd",
        "model.cell": "gru",
        "model.hidden_size": 128,
        "model.bidirectional": True,
        "model.pooling": "attention",
        "optim.lr": 3e-3,
        "train.batch_size": 32,
        "train.epochs": 30,
        "train.early_stopping": 0,
    },
}


# --------------------------------------------------------------------------------------- task
class ClassifyTask(Task[ClassifyConfig]):
    """Sequence classification on numeric sequences, images read as sequences, and speech."""

    name = "classify"
    config_class = ClassifyConfig
    maximize = frozenset({"accuracy", "precision", "recall", "f1"})
    aliases = {"dataset": "data.dataset", "data": "data.path", "data-dir": "data.data_dir"}
    presets = PRESETS
    search_space = {
        "optim.lr": {"low": 1e-3, "high": 3e-2, "log": True},
        "model.hidden_size": [32, 64, 128],
        "model.cell": ["lstm", "gru"],
    }

    def load_data(self, config: ClassifyConfig) -> TaskData:
        d = config.data
        if config.model.frontend == "cnn" and (d.path or d.dataset != "mnist" or d.mode != "rows"):
            raise ValueError(
                "model.frontend=cnn reads images: use --dataset mnist with --data.mode rows"
            )
        splits, state = load_splits(d)
        train, val, test = splits["train"], splits["val"], splits["test"]
        if val is None:
            train, val = split(train, d.val_fraction, d.seed + 1)
        labelled = [s for s in (train, val, test) if s is not None]
        classes = sorted({v.item() for s in labelled for v in s.y})
        state.update(
            num_features=train.num_features, classes=classes, **_scaler(train, d.normalize)
        )
        return TaskData(
            train=self._batches(train, state, "train"),
            val=self._batches(val, state, "val"),
            test=None if test is None else self._batches(test, state, "test"),
            state=state,
        )

    def build_model(self, config: ClassifyConfig, state: dict[str, Any]) -> nn.Module:
        image = tuple(state["image_shape"]) if state.get("mode") == "rows" else None
        return SequenceClassifier(
            state["num_features"], len(state["classes"]), config.model, image=image
        )

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
        names, seqs = read_inputs(Path(path), state)
        if seqs.num_features != state["num_features"]:
            raise ValueError(
                f"{path}: sequences have {seqs.num_features} features, the model was trained "
                f"on {state['num_features']}"
            )
        self._input_names = names  # for write_predictions' name column
        return self._batches(seqs, state, f"{path}")

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], state: dict[str, Any]
    ) -> None:
        classes = state["classes"]
        probs = predictions["probs"].numpy()
        names = getattr(self, "_input_names", None)
        names = names if names is not None and len(names) == len(probs) else None
        first = ["index"] + (["name"] if names else [])
        with Path(path).open("w") as f:
            f.write(
                ",".join([*first, "prediction", "confidence", *(f"p_{c}" for c in classes)]) + "\n"
            )
            for i, p in enumerate(probs):
                k = int(p.argmax())
                row = [str(i)] + ([names[i].replace(",", "_")] if names else [])
                f.write(
                    ",".join([*row, str(classes[k]), f"{p[k]:.6f}", *(f"{v:.6f}" for v in p)])
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
