"""A text as token streams: stateful truncated BPTT reads N parallel streams chunk by chunk.

Each split (a contiguous part of the text, :func:`text_split`) is cut into N parallel streams
(contiguous pieces); item k holds the k-th chunk of ``seq_len`` tokens of every stream, and the
state at the end of item k is the initial state of item k+1, detached so that gradients stop at
the boundary (:class:`rnnkit.train.tbptt.StreamBatches`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data import Split, chronological_split
from rnnkit.data.datasets import tinyshakespeare
from rnnkit.data.text import Tokenizer, Vocabulary, read_text
from rnnkit.train.tbptt import StreamBatches

DATASETS = {"tinyshakespeare": tinyshakespeare}


def text_split(
    n: int, split: str, val_fraction: float, test_fraction: float, source: str = "text"
) -> tuple[Split, int]:
    """Token ranges of train, validation and test, and how many leading tokens the vocabulary
    is built from.

    * ``fractions``: train, then ``val_fraction``, then ``test_fraction`` of the ``n`` tokens
      (borders at ``round(n * f)``); the vocabulary from train only.
    * ``nanogpt``: nanoGPT's ``data/shakespeare_char/prepare.py``: train ``[0, a)``, validation
      ``[a, n)`` with ``a = int(n * 0.9)``, no test; the vocabulary from the whole text.
    * ``nanogpt-holdout``: nanoGPT's training part ``[0, a)`` alone, split again by
      ``val_fraction`` (its last share validates), no test: settings chosen on it never see
      the last 10%, apart from the set of tokens it holds (the vocabulary is the whole text's,
      as in ``nanogpt``).
    """
    if split == "fractions":
        parts = chronological_split(n, val_fraction, test_fraction, source=source)
        return parts, parts.train[1]
    a = int(n * 0.9)  # nanoGPT's border, float rounding included
    if split == "nanogpt":
        return chronological_split(n, n - a, 0, source=source), n
    if split == "nanogpt-holdout":
        return chronological_split(a, val_fraction, 0, source=f"the first 90% of {source}"), n
    raise ValueError(f"split must be fractions, nanogpt or nanogpt-holdout, got {split!r}")


@dataclass(frozen=True)
class EncodedText:
    """A text's token ids per split (``train``, ``validation``, ``test``; (L,) int64 each, empty
    when a split has no share), with the tokenizer and vocabulary that produced them."""

    parts: dict[str, Tensor]
    tokenizer: Tokenizer
    vocab: Vocabulary
    source: str


def encode_text(d: Any) -> EncodedText:
    """Read, tokenize, split and encode the text that ``config.data`` (``d``) describes."""
    files = corpus_files(d.files, d.dataset, d.data_dir)
    source = ", ".join(f.name for f in files)
    tokenizer = tokenizer_of(d.level, d.lower)
    tokens = tokenizer.tokenize(read_text(files))
    split, vocab_end = text_split(
        len(tokens), d.split, d.val_fraction, d.test_fraction, source=source
    )
    vocab = Vocabulary.build(tokens[:vocab_end], d.min_freq, d.max_vocab or None)
    ids = torch.tensor(vocab.encode(tokens), dtype=torch.long)
    parts = {name: ids[slice(*getattr(split, part))] for name, part in
             (("train", "train"), ("validation", "val"), ("test", "test"))}  # fmt: skip
    return EncodedText(parts, tokenizer, vocab, source)


def token_stream(
    ids: Tensor, batch_size: int, seq_len: int, what: str = "text", training: bool = True
) -> StreamBatches:
    """``ids`` (L,) as ``batch_size`` parallel streams read in chunks of ``seq_len`` tokens.

    Item j of the result is ``{"x": (N, T), "y": (N, T)}``: inputs and the next tokens, where
    row n of item j+1 continues row n of item j (the engine carries the state between them).
    For training, every stream must fill at least one chunk, else ValueError naming ``what``
    (e.g. "the training split of input.txt"). For evaluation (``training=False``) a short text
    gets fewer streams instead, down to one; it needs 2 tokens.
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
    ids = ids.long()
    targets = len(ids) - 1
    if training and targets < batch_size * seq_len:
        raise ValueError(
            f"{what} has {len(ids)} tokens, fewer than one batch needs (batch_size "
            f"{batch_size} streams x seq_len {seq_len} + 1 = {batch_size * seq_len + 1}); "
            f"use a longer text or a smaller --train.batch_size / --data.seq_len"
        )
    if targets < 1:
        raise ValueError(f"{what} has {len(ids)} tokens; evaluating needs at least 2")
    rows = min(batch_size, max(1, targets // seq_len))
    return StreamBatches({"x": ids[:-1], "y": ids[1:]}, rows, seq_len)


def stream_targets(stream: StreamBatches) -> int:
    """Target tokens over every item of ``stream`` (what the loss averages over)."""
    return stream.batch_size * stream.steps


def corpus_files(files: tuple[str, ...], dataset: str, data_dir: str | None) -> list[Path]:
    """The text files to read: ``files``, else the built-in ``dataset`` (fetched once)."""
    if files:
        return [Path(f) for f in files]
    return [DATASETS[dataset].path(data_dir)]


def tokenizer_of(level: str, lower: bool) -> Tokenizer:
    """The tokenizer of a language model: characters or words, newlines kept as tokens."""
    return Tokenizer(level, lower=lower, newlines=True)


def unigram_entropy(ids: Tensor) -> float:
    """Entropy (nats) of the token frequencies of ``ids``: the loss of a model that knows
    nothing but how often each token occurs."""
    counts = torch.bincount(ids.long()).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())
