"""The lm task's settings: the text and its tokens, the model, the optimiser and training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName
from rnnkit.nn.dispatch import FUSED_HELP
from rnnkit.train.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class LMData(Section):
    """The text, its tokens and vocabulary, the split and the truncated-BPTT length."""

    files: tuple[str, ...] = option((), "UTF-8 text files, read in order (empty: data.dataset)")
    dataset: Literal["tinyshakespeare"] = option(
        "tinyshakespeare", "built-in corpus used when no files are given (downloaded once)"
    )
    data_dir: str | None = option(
        None, "folder of built-in corpora ($RNNKIT_DATA, ~/.cache/rnnkit)"
    )
    level: Literal["char", "word"] = option("char", "tokens: characters or words (+ newlines)")
    lower: bool = option(False, "lower-case the text first")
    min_freq: int = option(
        1, "keep tokens seen at least this often in train; others -> <unk>", low=1
    )
    max_vocab: int = option(0, "keep at most this many tokens besides <unk> (0: all)", low=0)
    split: Literal["fractions", "nanogpt", "nanogpt-holdout"] = option(
        "fractions",
        "fractions: train, then data.val_fraction, then data.test_fraction of the text, the "
        "vocabulary from train; nanogpt: nanoGPT's split (first 90% train, last 10% validation, "
        "no test, the vocabulary from the whole text); nanogpt-holdout: nanoGPT's training 90% "
        "alone, its last data.val_fraction validating (for choosing settings)",
    )
    val_fraction: float = option(0.05, "validation share, taken after train by position", low=0)
    test_fraction: float = option(
        0.05, "test share, the end of the text (data.split fractions)", low=0
    )
    seq_len: int = option(128, "truncated BPTT: tokens per chunk of each stream", low=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 (train needs a share), got "
                f"{self.val_fraction} + {self.test_fraction}"
            )


@dataclass(frozen=True)
class LMModel(Section):
    """Embedding -> stacked recurrent layers -> linear over the vocabulary."""

    cell: CellName = option("lstm", "recurrent cell")
    embedding_size: int = option(64, "embedding size E", low=1)
    hidden_size: int = option(384, "hidden size H", low=1)
    num_layers: int = option(2, "stacked recurrent layers", low=1)
    dropout: float = option(
        0.2, "dropout between layers and before the output layer", low=0, high=0.95
    )
    layer_norm: bool = option(False, "layer-normalised cells (slower: no fused kernel)")
    tie_weights: bool = option(False, "share the embedding with the output layer (needs E == H)")
    fused: Literal["auto", "true", "false"] = option("auto", FUSED_HELP)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tie_weights and self.embedding_size != self.hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size, got {self.embedding_size} "
                f"and {self.hidden_size}"
            )


@dataclass(frozen=True)
class LMConfig:
    """Language model: next-token prediction over a text, trained with stateful truncated BPTT."""

    data: LMData = LMData()
    model: LMModel = LMModel()
    # The measured tinyshakespeare recipe (docs/lm.md): validation 1.45 nats/char in 5 epochs.
    optim: OptimConfig = OptimConfig(lr=2e-3, clip_norm=5.0, schedule="cosine", min_lr=1e-4)
    train: TrainConfig = TrainConfig(epochs=5, batch_size=32, early_stopping=3, eval_train=False)


# A preset is a named set of settings, applied over the defaults and under --config and flags.
PRESETS: dict[str, dict[str, Any]] = {
    # nanoGPT's split of tinyshakespeare (docs/lm.md); compare settings on nanogpt-holdout
    # (`python benchmarks/lm.py results --only select-...`), never on nanoGPT's validation text
    "shakespeare-nanogpt": {
        "data.split": "nanogpt",
        "data.seq_len": 128,
        "model.embedding_size": 128,
        "model.hidden_size": 512,
        "model.num_layers": 2,
        "model.dropout": 0.25,
        "optim.name": "adamw",
        "optim.lr": 2e-3,
        "optim.beta2": 0.99,
        "optim.weight_decay": 0.1,
        "optim.clip_norm": 1.0,
        "optim.schedule": "cosine",
        "optim.warmup_epochs": 0.25,
        "optim.min_lr": 1e-4,
        "train.batch_size": 64,
        "train.epochs": 24,
        "train.early_stopping": 0,
        "train.eval_train": False,
    },
}
