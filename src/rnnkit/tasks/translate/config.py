"""The translate task's settings: the parallel text and its split, the model, decoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.config import Section, option
from rnnkit.nn import CellName
from rnnkit.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class TranslateData(Section):
    """Where the sentence pairs come from, how they are cleaned, split and cut into subwords."""

    dataset: Literal["fra-eng", "copy", "reverse"] = option(
        "fra-eng",
        "built-in corpus used when no file is given: fra-eng (Tatoeba English-French, 142,787 "
        "pairs), or copy / reverse (random token sequences copied or reversed, from data.seed)",
    )
    pairs: int = option(20000, "copy / reverse: pairs generated", low=10)
    path: str = option(
        "", "a UTF-8 file of SOURCE<TAB>TARGET lines, extra columns ignored (overrides dataset)"
    )
    source_file: str = option("", "with data.target_file: two aligned files, a sentence a line")
    target_file: str = option("", "the translations of data.source_file, line by line")
    data_dir: str = option(
        "", "folder of built-in corpora [default: $RNNKIT_DATA, else ~/.cache/rnnkit]"
    )
    reverse: bool = option(
        False, "translate the second column into the first (fra-eng: French to English)"
    )
    normalization: Literal["NFKC", "NFC", "none"] = option(
        "NFKC", "Unicode normal form of both sides (whitespace is always collapsed)"
    )
    dedupe: bool = option(True, "drop pairs identical to an earlier one")
    max_words: int = option(15, "drop pairs with more words on either side (0: keep all)", low=0)
    valid_sentences: float = option(
        5000, "distinct source sentences held out for validation (< 1: a fraction)", low=0
    )
    test_sentences: float = option(
        5000, "distinct source sentences held out for testing (< 1: a fraction)", low=0
    )
    seed: int = option(0, "seed of the split", low=0)
    limit: int = option(0, "train on a seeded random subset of this many pairs (0: all)", low=0)
    subwords: Literal["bpe", "unigram"] = option(
        "bpe", "subword model learned on the training side: byte-pair merges or unigram LM"
    )
    vocab_size: int = option(8000, "subwords per vocabulary, specials included", low=8)
    shared_vocab: bool = option(False, "one vocabulary learned on both languages")
    min_frequency: int = option(2, "bpe: merge pairs seen at least this often", low=1)


@dataclass(frozen=True)
class TranslateModel(Section):
    """Embeddings -> bidirectional encoder -> bridge -> attentional decoder -> output layer."""

    cell: CellName = option("gru", "recurrent layers of encoder and decoder (rnnkit.nn)")
    embedding_size: int = option(256, "embedding size E (both languages)", low=1)
    hidden_size: int = option(256, "encoder hidden units per direction", low=1)
    encoder_layers: int = option(1, "stacked encoder layers", low=1)
    bidirectional: bool = option(True, "also read the source backwards")
    decoder_size: int = option(512, "decoder hidden units", low=1)
    decoder_layers: int = option(1, "stacked decoder layers", low=1)
    attention: Literal["luong", "bahdanau"] = option(
        "luong",
        "luong: attend with the decoder's new state (after its step); bahdanau: with its "
        "previous state, feeding the context into the step",
    )
    score: Literal["general", "dot", "additive"] = option(
        "general", "attention score: q.W.m (general), q.m (dot), v.tanh(Wq+Um) (additive)"
    )
    attention_size: int = option(256, "additive score: hidden size", low=1)
    input_feeding: bool = option(
        False, "feed the previous attentional vector into each decoder step (steps one by one)"
    )
    bridge: Literal["linear", "zeros"] = option(
        "linear", "decoder's initial state: tanh(W [last forward; first backward state]) or 0"
    )
    dropout: float = option(
        0.2, "dropout on embeddings, between layers and before the output", low=0, high=0.95
    )
    tie_output: bool = option(
        True, "output layer shares the target embedding (the attentional vector has size E)"
    )
    share_embeddings: bool = option(
        False, "source and target share one embedding (needs data.shared_vocab)"
    )
    label_smoothing: float = option(0.1, "label smoothing of the training loss", low=0, high=0.9)
    scheduled_sampling: float = option(
        0.0,
        "probability of feeding the model's own previous prediction instead of the reference "
        "while training (steps one by one when > 0)",
        low=0,
        high=1,
    )


@dataclass(frozen=True)
class TranslateDecode(Section):
    """How translations are searched for (evaluation and the translate command)."""

    beam_size: int = option(5, "hypotheses kept per sentence (1: greedy)", low=1)
    length_penalty: float = option(
        1.0,
        "alpha of the score log P / ((5 + length) / 6) ** alpha (0: raw log-probability)",
        low=0,
    )
    max_length_ratio: float = option(
        2.0, "longest translation: ratio x source subwords + 5", low=0, low_open=True
    )
    early_stop: bool = option(
        True, "a sentence is done once beam_size hypotheses have ended (else: at the max length)"
    )
    unknown: Literal["replace", "keep"] = option(
        "replace", "an output <unk> becomes the source text it attends to most, or stays <unk>"
    )
    validation: Literal["greedy", "beam"] = option(
        "greedy",
        "how the validation split is translated after each epoch: greedy (cheaper) or "
        "greedy and beam search; the test split and scored files always get both",
    )
    samples: int = option(20, "sample translations in the report table", low=0)
    heatmaps: int = option(4, "attention heat maps drawn for the first test sentences", low=0)


@dataclass(frozen=True)
class TranslateConfig:
    """Translation: an attentional recurrent encoder-decoder over subwords."""

    data: TranslateData = TranslateData()
    model: TranslateModel = TranslateModel()
    decode: TranslateDecode = TranslateDecode()
    optim: OptimConfig = OptimConfig(lr=2e-3, clip_norm=1.0, schedule="cosine", min_lr=1e-4)
    train: TrainConfig = TrainConfig(
        epochs=10,
        batch_size=128,
        eval_batch_size=500,
        monitor="bleu_greedy",
        early_stopping=3,
        bucketing=50,
        eval_train=False,
    )


PRESETS: dict[str, dict[str, Any]] = {
    # the documented run: fra-eng English -> French, at most an hour of training on 2 CPU
    # cores (benchmarks/translate.py). bf16 autocast: faster steps on CPUs with bf16 units;
    # one thread: on a shared 2-core machine a second thread mostly waits
    "fra-eng": {
        "data.dataset": "fra-eng",
        "train.precision": "bf16-mixed",
        "train.threads": 1,
        "train.epochs": 7,
    },
    # the learning check: reverse random token sequences; test BLEU > 90 in about a minute
    "reverse": {
        "data.dataset": "reverse",
        "data.pairs": 6000,
        "data.valid_sentences": 300,
        "data.test_sentences": 300,
        "data.max_words": 0,
        "data.vocab_size": 64,
        "model.embedding_size": 64,
        "model.hidden_size": 64,
        "model.decoder_size": 128,
        "model.dropout": 0.0,
        "model.label_smoothing": 0.0,
        "optim.lr": 3e-3,
        "train.epochs": 4,
        "train.batch_size": 64,
        "train.early_stopping": 0,
    },
}
