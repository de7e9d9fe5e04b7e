"""``text``: one label per document, from embeddings, a recurrent encoder and a linear head.

Data: ``--dataset imdb`` (the Large Movie Review Dataset's official 25k/25k split), or
``--data PATH`` (a folder of ``LABEL/*.txt`` files or a CSV/TSV/JSONL table; ``--data.test``
for a test set in the same layout). Validation is carved from the training documents only
(stratified, :func:`rnnkit.data.random_split`). Preprocessing (:mod:`.preprocess`) and the
vocabulary are fitted on the training split alone and saved with the checkpoint, with the class
names, so ``predict`` reads new documents exactly as training did.

Model (:mod:`.model`): embedding -> uni/bidirectional LSTM/GRU over each document's real tokens
-> last/mean/max/attention pooling -> linear head. Batches are length-bucketed
(``train.bucketing``) and cut to their longest document.

After training, :meth:`TextTask.calibrate` fits the linear baselines (:mod:`.baselines`) on the
same split; their scores join the model's in ``metrics.json`` and in the report
(:mod:`.report`): per-class precision/recall/F1, the confusion matrix, the most confidently
wrong test documents and documents highlighted by their attention weights.

Shapes: N documents, T tokens, C classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data import DataError, Sequences, TensorBatches, random_split
from rnnkit.data.datasets.imdb import load_imdb
from rnnkit.data.documents import Documents, read_documents
from rnnkit.train import Context, Inputs, Step, Task, TaskData, classification_metrics

from . import preprocess
from .baselines import BASELINES
from .config import PRESETS, TextConfig
from .embeddings import initial_vectors, pack, unpack
from .model import TextClassifier
from .report import per_class, write_report


def split_documents(docs: Documents, fraction: float, seed: int) -> tuple[Documents, Documents]:
    """(rest, held out): a stratified random share of labelled documents
    (:func:`rnnkit.data.random_split` over their indices)."""
    n = len(docs)
    index = Sequences(
        np.arange(n, dtype=np.float32)[:, None, None], np.ones(n, dtype=np.int64),
        np.array(docs.labels),
    )  # fmt: skip
    rest, part = random_split(index, fraction, seed)
    return docs.subset(rest.x[:, 0, 0].astype(int)), docs.subset(part.x[:, 0, 0].astype(int))


def _limit(docs: Documents, limit: int, seed: int) -> Documents:
    if not limit or limit >= len(docs):
        return docs
    return split_documents(docs, limit / len(docs), seed)[1]


def load_documents(config: TextConfig) -> dict[str, Documents | None]:
    """Train, validation and test documents of ``config.data`` (test may be None)."""
    d = config.data
    if d.path:
        train = read_documents(d.path, d.text_column, d.label_column, need_labels=True)
        test = (
            read_documents(d.test, d.text_column, d.label_column, need_labels=True)
            if d.test
            else None
        )
    else:
        splits = load_imdb(d.data_dir or None)
        train, test = splits["train"], splits["test"]
    classes = sorted(set(train.labels))
    if len(classes) < 2:
        raise DataError(
            f"{d.path or d.dataset}: the training labels hold one class only ({classes[0]!r}); "
            f"a classifier needs at least two"
        )
    train = _limit(train, d.limit, d.seed + 2)
    if test is not None:
        test = _limit(test, d.limit, d.seed + 3)
    train, val = split_documents(train, d.val_fraction, d.seed)
    if d.hold_test:
        test = None
    return {"train": train, "validation": val, "test": test}


def to_batches(
    docs: Documents, config: TextConfig, state: Mapping[str, Any], where: str
) -> TensorBatches:
    """Token ids, lengths and (when labelled) class indices of ``docs`` as tensors."""
    tokens = preprocess.tokenize(docs.texts, config.text, state["subwords"])
    vocab = preprocess.vocabulary(state)
    ids, lengths = preprocess.encode(tokens, config.text, vocab, docs.names, where)
    tensors = {"ids": torch.from_numpy(ids), "lengths": torch.from_numpy(lengths)}
    if docs.labels is not None:
        tensors["y"] = torch.tensor(class_indices(docs, state["classes"], where))
    return TensorBatches(tensors, time_keys=("ids",))


def class_indices(docs: Documents, classes: list[str], where: str) -> list[int]:
    """Each document's class index; a label the model does not know is a DataError naming
    the document (file or row)."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for name, label in zip(docs.names, docs.labels):
        if label not in index:
            raise DataError(f"{where}: {name}: label {label!r} is not one of the classes {classes}")
        out.append(index[label])
    return out


class TextTask(Task[TextConfig]):
    """Document classification: sentiment, topic, intent."""

    name = "text"
    config_class = TextConfig
    maximize = frozenset({"accuracy", "precision", "recall", "f1"})
    headline = ("loss", "accuracy", "f1")
    aliases = {"dataset": "data.dataset", "data": "data.path", "data-dir": "data.data_dir"}
    presets = PRESETS
    search_space = {
        "optim.lr": {"low": 5e-4, "high": 5e-3, "log": True},
        "model.hidden_size": [64, 128, 192],
        "model.pooling": ["max", "attention", "mean+max"],
    }

    def load_data(self, config: TextConfig) -> TaskData:
        docs = load_documents(config)
        state, train_tokens = preprocess.fit(docs["train"].texts, config.text)
        vocab = preprocess.vocabulary(state)
        state["classes"] = sorted(set(docs["train"].labels))
        counts = np.bincount(class_indices(docs["train"], state["classes"], "train"),
                             minlength=len(state["classes"]))  # fmt: skip
        state["class_counts"] = counts.tolist()
        vectors, info = initial_vectors(
            train_tokens, vocab, config.model, config.train.seed, config.train.threads
        )
        state["init_vectors"] = None if vectors is None else pack(vectors)
        state["embedding_info"] = info
        source = config.data.path or config.data.dataset
        batches = {
            split: None if d is None else to_batches(d, config, state, f"{source} ({split})")
            for split, d in docs.items()
        }
        return TaskData(
            batches["train"], batches["validation"], batches["test"], state=state, extra=docs
        )

    def build_model(self, config: TextConfig, state: Mapping[str, Any]) -> nn.Module:
        vectors = unpack(state.get("init_vectors"))
        size = len(state["vocab"]["tokens"])
        if vectors is None and state.get("embedding_size"):
            config = _with_embedding_size(config, state["embedding_size"])
        model = TextClassifier(size, len(state["classes"]), config.model, vectors)
        if config.model.class_weights:  # w_c = N / (C n_c): every class weighs the same in total
            counts = torch.tensor(state["class_counts"], dtype=torch.float32).clamp(min=1)
            model.register_buffer("class_weight", counts.sum() / (len(counts) * counts))
        return model

    def step(self, model: nn.Module, batch: dict[str, Tensor], state: Any = None) -> Step:
        if "y" not in batch:
            raise DataError("text: these documents have no labels to compute a loss with")
        logits = model(batch["ids"], batch["lengths"])  # (N, C)
        weight = getattr(model, "class_weight", None)
        loss = F.cross_entropy(logits, batch["y"], weight=weight)
        return Step(loss, {"logits": logits.detach(), "target": batch["y"]})

    def metrics(self, outputs: dict[str, Tensor], ctx: Context) -> dict[str, Any]:
        logits = outputs["logits"]
        values = classification_metrics(logits.argmax(1), outputs["target"], logits.shape[1])
        values["per_class"] = per_class(values["confusion"], ctx.state["classes"])
        for name, scores in (ctx.state.get("baselines") or {}).items():
            if ctx.split in scores:
                for metric, value in scores[ctx.split].items():
                    values[f"{name}_{metric}"] = value
        return values

    def calibrate(self, outputs: dict[str, dict[str, Tensor]], ctx: Context) -> dict[str, Any]:
        """Drop the initial vectors from the saved state (the trained weights replace them) and
        fit the baselines on the same split."""
        out: dict[str, Any] = {"init_vectors": None, "embedding_size": _embedding_size(ctx)}
        config, docs = ctx.config, ctx.data.extra if ctx.data is not None else None
        if not config.report.baselines or docs is None:
            return out
        classes = ctx.state["classes"]
        texts, y = {}, {}
        for split, d in docs.items():
            if d is not None:
                texts[split] = [preprocess.normalize(t, config.text) for t in d.texts]
                y[split] = np.array(class_indices(d, classes, split))
        out["baselines"] = {name: fit(texts, y) for name, fit in BASELINES.items()}
        return out

    def report(self, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
        if ctx.split in ("validation", "test") and ctx.run_dir is not None:
            write_report(self, outputs, metrics, ctx)

    def predict(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"probs": torch.softmax(model(batch["ids"], batch["lengths"]), dim=1)}

    def read_inputs(self, path: Path, config: TextConfig, state: Mapping[str, Any]) -> Inputs:
        d = config.data
        docs = read_documents(path, d.text_column, d.label_column)
        return Inputs(to_batches(docs, config, state, str(path)), docs.names, {"docs": docs})

    def write_predictions(
        self, path: Path, predictions: dict[str, Tensor], inputs: Inputs, ctx: Context
    ) -> int:
        import csv

        classes = ctx.state["classes"]
        probs = predictions["probs"].numpy()
        with Path(path).open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(
                ["index", "name", "prediction", "confidence", *(f"p_{c}" for c in classes)]
            )
            for i, p in enumerate(probs):
                k = int(p.argmax())
                name = inputs.names[i] if inputs.names else str(i)
                out.writerow([i, name, classes[k], f"{p[k]:.6f}", *(f"{v:.6f}" for v in p)])
        return len(probs)


def _embedding_size(ctx: Context) -> int:
    packed = ctx.state.get("init_vectors")
    return packed["shape"][1] if packed else ctx.config.model.embedding_size


def _with_embedding_size(config: TextConfig, size: int) -> TextConfig:
    from dataclasses import replace

    return replace(config, model=replace(config.model, embedding_size=size))


TASK = TextTask()
