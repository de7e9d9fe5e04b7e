"""``classify``: one label per sequence, from a recurrent encoder and a linear head.

Model (:mod:`.model`): :class:`SequenceEncoder` (any ``rnnkit.nn`` layer, uni- or bidirectional,
pooled by the last state, the mean of the outputs, or attention over them), optionally behind a
convolutional front end over images (``--model.frontend cnn``), then ``Linear(D*H, C)``.

Data (:mod:`.inputs`): ``--dataset digits`` (built in: scikit-learn's 8x8 digits read row by
row; a stratified test split is held out), ``--dataset mnist`` (any folder of MNIST-format IDX
files, read as ``--data.mode rows|pixels|permuted``), ``--dataset fsdd`` (spoken digits: WAV ->
log-mel/MFCC frames, the dataset's standard split) or ``--data FILE`` (``.npz`` or ``.csv``, see
:mod:`rnnkit.data.files`). A validation split is carved from train when the source has none.
Features are standardised with the training split's statistics (:mod:`rnnkit.data.scaling`),
which are saved with the checkpoint (with the class names and how inputs were read) and reused
to predict on new files: PNG/NPY images, WAV recordings, or folders of them.

Shapes: N sequences, T steps, F features, D directions, H hidden size, C classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data import Sequences, TensorBatches, random_split
from rnnkit.data.scaling import make_scaler, scaler_from_state
from rnnkit.train import Context, Inputs, Step, Task, TaskData, classification_metrics
from rnnkit.train.plots import plot_confusion

from .config import PRESETS, ClassifyConfig
from .inputs import load_splits, read_inputs
from .model import SequenceClassifier

SCALERS = {"feature": "standard", "global": "global", "none": "none"}  # data.normalize -> kind


class ClassifyTask(Task[ClassifyConfig]):
    """Sequence classification on numeric sequences, images read as sequences, and speech."""

    name = "classify"
    config_class = ClassifyConfig
    maximize = frozenset({"accuracy", "precision", "recall", "f1"})
    headline = ("loss", "accuracy", "f1")
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
            train, val = random_split(train, d.val_fraction, d.seed + 1)
        labelled = [s for s in (train, val, test) if s is not None]
        classes = sorted({v.item() for s in labelled for v in s.y})
        real = np.arange(train.x.shape[1])[None, :] < train.lengths[:, None]  # (N, T)
        scaler = make_scaler(SCALERS[d.normalize]).fit(train.x[real])  # over real steps only
        state.update(num_features=train.num_features, classes=classes, scaler=scaler.state_dict())
        return TaskData(
            train=as_batches(train, state, "train"),
            val=as_batches(val, state, "val"),
            test=None if test is None else as_batches(test, state, "test"),
            state=state,
        )

    def build_model(self, config: ClassifyConfig, state: Mapping[str, Any]) -> nn.Module:
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

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        logits = outputs["logits"]
        return classification_metrics(logits.argmax(1), outputs["target"], logits.shape[1])

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.split in ("validation", "test") and ctx.run_dir is not None:
            labels = [str(c) for c in ctx.state["classes"]]
            title = f"{ctx.split}: accuracy {metrics['accuracy']:.4f}"
            path = ctx.run_dir / f"confusion_{ctx.split}.png"
            plot_confusion(metrics["confusion"], labels, path, title)

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"probs": torch.softmax(model(batch["x"], batch["lengths"]), dim=1)}

    def read_inputs(self, path: Path, config: ClassifyConfig, state: Mapping[str, Any]) -> Inputs:
        names, seqs = read_inputs(Path(path), state)
        if seqs.num_features != state["num_features"]:
            raise ValueError(
                f"{path}: sequences have {seqs.num_features} features, the model was trained "
                f"on {state['num_features']}"
            )
        return Inputs(as_batches(seqs, state, str(path)), names)

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        classes = ctx.state["classes"]
        probs = predictions["probs"].numpy()
        names = inputs.names if inputs.names and len(inputs.names) == len(probs) else None
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
        return len(probs)


def as_batches(seqs: Sequences, state: Mapping[str, Any], where: str) -> TensorBatches:
    """Scale features (padding stays 0), map labels to class indices, hold it all as tensors."""
    real = np.arange(seqs.x.shape[1])[None, :, None] < seqs.lengths[:, None, None]
    x = np.where(real, scaler_from_state(state["scaler"]).transform(seqs.x), 0.0)
    tensors = {
        "x": torch.from_numpy(x.astype(np.float32)),
        "lengths": torch.from_numpy(seqs.lengths),
    }
    if seqs.y is not None:
        index = {c: i for i, c in enumerate(state["classes"])}
        unknown = sorted({v.item() for v in seqs.y} - set(index))
        if unknown:
            raise ValueError(
                f"{where}: labels {unknown[:5]} are not among the classes {state['classes']}"
            )
        tensors["y"] = torch.tensor([index[v.item()] for v in seqs.y], dtype=torch.long)
    return TensorBatches(tensors, time_keys=("x",))


TASK = ClassifyTask()
