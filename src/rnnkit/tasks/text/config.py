"""The text task's settings: where the documents come from, preprocessing, the model, the report.

Presets (``--preset NAME``, flags still override) are the documented runs (see docs/text.md):
``imdb`` (the setting ``benchmarks/text.py`` measures) and ``imdb-quick`` (a 5,000-review
subset, for a first look).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.train import OptimConfig, TrainConfig

from .model import TextModel
from .preprocess import TextPrep


@dataclass(frozen=True)
class TextData(Section):
    """Where the labelled documents come from and how validation is carved from training."""

    dataset: Literal["imdb"] = option(
        "imdb",
        "data set, used when data.path is empty: imdb (Large Movie Review Dataset, the official "
        "25k/25k split)",
    )
    path: str = option(
        "",
        "training documents: a folder of LABEL/*.txt files, or a .csv/.tsv/.jsonl file (.gz "
        "too) with data.text_column and data.label_column (overrides data.dataset)",
    )
    test: str = option("", "test documents, in the same layout as data.path (optional)")
    data_dir: str = option(
        "",
        "folder holding imdb/imdb_50k.csv.gz or imdb/aclImdb_v1.tar.gz [default: "
        "$RNNKIT_DATA, else ~/.cache/rnnkit; the archive is downloaded with its checksum when "
        "missing]",
    )
    text_column: str = option("text", "tables: the column holding each document's text")
    label_column: str = option("label", "tables: the column holding each document's label")
    val_fraction: float = option(
        0.1, "share of training documents held out for validation (stratified)",
        low=0, low_open=True, high=0.5,
    )  # fmt: skip
    limit: int = option(
        0, "use a seeded stratified subset of this many training (and test) documents (0: all)",
        low=0,
    )  # fmt: skip
    seed: int = option(0, "seed of the validation split and of data.limit", low=0)
    hold_test: bool = option(
        False, "leave the test split out: choose settings on validation without seeing test"
    )


@dataclass(frozen=True)
class TextReport(Section):
    """What the final report shows beside the model's metrics."""

    baselines: bool = option(
        True,
        "fit TF-IDF (word 1-2 grams) + logistic regression and NB-SVM on the same split and "
        "report them beside the model",
    )
    wrong: int = option(10, "the most confidently wrong test documents to list", low=0)
    highlight: int = option(
        6, "documents rendered with their attention (or max-pooling) weights as HTML", low=0
    )


@dataclass(frozen=True)
class TextConfig:
    """Document classification: embeddings, a recurrent encoder, pooling and a linear head."""

    data: TextData = TextData()
    text: TextPrep = TextPrep()
    model: TextModel = TextModel()
    report: TextReport = TextReport()
    optim: OptimConfig = OptimConfig(lr=2e-3, clip_norm=5.0)
    # one thread: on a shared 2-core machine two threads wait for each other more than they gain
    train: TrainConfig = TrainConfig(
        epochs=6, batch_size=64, bucketing=50, monitor="accuracy", threads=1, eval_train=False
    )


_IMDB = {
    "data.dataset": "imdb",
    "optim.schedule": "cosine",
    "optim.warmup_epochs": 0.3,
}
PRESETS: dict[str, dict[str, Any]] = {
    # the documented IMDB setting (docs/text.md): skip-gram vectors trained on the training
    # split, a BiLSTM of 64 units per direction, mean and max pooling, 4 epochs
    "imdb": {
        **_IMDB,
        "model.embeddings": "word2vec",
        "model.embedding_size": 100,
        "model.hidden_size": 64,
        "model.pooling": "mean+max",
        "train.epochs": 4,
    },
    # a first look: 5,000 training (and test) documents, 200 tokens each, no baselines
    "imdb-quick": {
        **_IMDB,
        "data.limit": 5000,
        "text.max_length": 200,
        "model.hidden_size": 64,
        "train.epochs": 3,
        "report.baselines": False,
    },
}
