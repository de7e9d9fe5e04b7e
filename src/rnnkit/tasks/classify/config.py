"""The classify task's settings: where the sequences come from, the model, the presets.

Presets (``--preset NAME``, flags still override) are the documented headline runs:
``tutorial-mnist`` (a 2-layer LSTM on MNIST rows, the classic tutorial model), ``mnist-rows``,
``mnist-cnn`` and ``fsdd``. They were chosen on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.train import OptimConfig, TrainConfig

from .model import EncoderConfig


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
    # the classic tutorial model: 2-layer LSTM 128, Adam 1e-3, batch 100, 5 epochs (97.74%)
    "tutorial-mnist": {
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
