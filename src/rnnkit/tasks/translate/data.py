"""The translate task's data: pairs read and cleaned, split by source sentence, as subword ids.

The split (:func:`rnnkit.data.splits.group_split`) holds out whole source sentences: every
translation of a held-out sentence is held out with it, since a random split of pairs would put
near-copies of test sentences into training. Subword vocabularies are learned on the training
side only.

Batches (:class:`rnnkit.data.TensorBatches`): ``src`` (N, S) ids ending with ``<eos>``,
``lengths`` (N,), ``tgt`` (N, T + 1) ``<bos> y_1 .. y_T <eos>`` and ``tgt_lengths`` (N,) = T + 1.
Validation, test and a user's file also carry, for scoring, ``group`` (N,) (the source
sentence's number), ``first`` (N,) (the first pair of its group: the one translated), ``beam``
(N,) (whether to run beam search besides greedy decoding) and the
source and reference texts as Unicode code points (``src_text``/``src_chars``,
``ref_text``/``ref_chars``), so that BLEU is computed against the text itself, not subwords;
their pairs are ordered by source length (fast batched decoding), each group together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.data import DataError, TensorBatches
from rnnkit.data.datasets import fra_eng
from rnnkit.data.datasets.token_pairs import token_pairs
from rnnkit.data.parallel import ParallelText, clean_pairs, read_aligned, read_tsv
from rnnkit.data.splits import group_split
from rnnkit.data.subwords import BOS, EOS, PAD, SubwordTokenizer

from .config import TranslateData

LANGUAGES = {"fra-eng": ("en", "fr")}
SPLIT_FILES = {"validation": "valid.tsv", "test": "test.tsv"}


def read_corpus(d: TranslateData) -> tuple[ParallelText, str, tuple[str, str]]:
    """The raw pairs of ``config.data``, their description and (source, target) language."""
    if d.path and (d.source_file or d.target_file):
        raise DataError("give either data.path or data.source_file + data.target_file, not both")
    if d.source_file or d.target_file:
        if not (d.source_file and d.target_file):
            raise DataError("data.source_file and data.target_file go together: give both")
        pairs, langs = read_aligned(d.source_file, d.target_file), ("source", "target")
    elif d.path:
        pairs, langs = read_tsv(d.path), ("source", "target")
    elif d.dataset in ("copy", "reverse"):
        pairs, langs = token_pairs(d.dataset, d.pairs, d.seed), ("tokens", "tokens")
    else:
        pairs, langs = fra_eng.load(d.data_dir or None), LANGUAGES[d.dataset]
    if d.reverse:
        pairs, langs = pairs.swapped(), (langs[1], langs[0])
    return pairs, pairs.path, langs


def load_splits(d: TranslateData) -> tuple[dict[str, ParallelText], dict[str, Any]]:
    """Cleaned pairs split into ``train``/``validation``/``test`` by source sentence, and what
    the task state records about them."""
    raw, where, langs = read_corpus(d)
    pairs, counts = clean_pairs(raw, d.normalization, d.dedupe, d.max_words)
    train, val, test = group_split(
        pairs.source, d.valid_sentences, d.test_sentences, d.seed, source=where
    )
    if d.limit and d.limit < len(train):
        keep = np.random.default_rng(d.seed + 1).permutation(len(train))[: d.limit]
        train = np.sort(train[keep])
    splits = {"train": pairs.subset(train), "validation": pairs.subset(val),
              "test": pairs.subset(test)}  # fmt: skip
    info = {
        "source": where,
        "languages": list(langs),
        "cleaning": counts,
        "pairs": {k: len(v) for k, v in splits.items()},
        "sentences": {k: len(set(v.source)) for k, v in splits.items()},
    }
    return splits, info


def train_tokenizers(train: ParallelText, d: TranslateData) -> dict[str, str]:
    """Subword vocabularies learned on the training pairs: the task state's tokenizers."""

    def learn(texts: Sequence[str]) -> str:
        return SubwordTokenizer.train(texts, d.vocab_size, d.subwords, d.min_frequency).to_str()

    if d.shared_vocab:
        both = learn([*train.source, *train.target])
        return {"source_tokenizer": both, "target_tokenizer": both}
    return {"source_tokenizer": learn(train.source), "target_tokenizer": learn(train.target)}


def tokenizers_of(state: Mapping[str, Any]) -> tuple[SubwordTokenizer, SubwordTokenizer]:
    """(source, target) tokenizers of a task state."""
    source = SubwordTokenizer.from_str(state["source_tokenizer"])
    if state["target_tokenizer"] == state["source_tokenizer"]:
        return source, source
    return source, SubwordTokenizer.from_str(state["target_tokenizer"])


def pad_ids(rows: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Right-padded (N, max length) int64 ids and the (N,) lengths."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), max(1, int(lengths.max()) if len(rows) else 1)), PAD)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out, lengths


def code_points(texts: Sequence[str]) -> tuple[Tensor, Tensor]:
    """Texts as right-padded (N, C) int32 Unicode code points and (N,) lengths."""
    rows = [[ord(ch) for ch in t] for t in texts]
    ids, lengths = pad_ids(rows)
    return ids.int(), lengths


def texts_of(flat: Tensor, lengths: Tensor) -> list[str]:
    """Texts back from concatenated code points (M,) and their lengths (N,)."""
    chars = "".join(map(chr, flat.tolist()))
    out, start = [], 0
    for n in lengths.tolist():
        out.append(chars[start : start + n])
        start += n
    return out


def encode_pairs(
    pairs: ParallelText,
    state: Mapping[str, Any],
    scoring: bool,
    where: str = "pairs",
    beam: bool = True,
) -> TensorBatches:
    """Pairs as batches of ids (see the module docstring); ``scoring`` adds what decoding and
    BLEU need, and orders the pairs by source length, each source sentence's pairs together;
    ``beam`` (a ``beam`` (N,) flag) asks for beam search besides greedy decoding."""
    if not len(pairs):
        raise DataError(f"{where}: no sentence pairs")
    src_tok, tgt_tok = tokenizers_of(state)
    src_ids = src_tok.encode(pairs.source)
    if scoring:
        group_of: dict[str, int] = {}
        groups = [group_of.setdefault(s, len(group_of)) for s in pairs.source]
        order = sorted(range(len(pairs)), key=lambda i: (len(src_ids[i]), groups[i], i))
        pairs, src_ids = pairs.subset(order), [src_ids[i] for i in order]
    src, lengths = pad_ids([ids + [EOS] for ids in src_ids])
    tgt, tgt_lengths = pad_ids([[BOS, *ids, EOS] for ids in tgt_tok.encode(pairs.target)])
    tensors = {"src": src, "lengths": lengths, "tgt": tgt, "tgt_lengths": tgt_lengths - 1}
    if scoring:
        group = torch.tensor([groups[i] for i in order], dtype=torch.long)
        first = torch.ones(len(group), dtype=torch.bool)
        first[1:] = group[1:] != group[:-1]
        tensors.update(group=group, first=first, beam=torch.full((len(group),), beam))
        tensors["src_text"], tensors["src_chars"] = code_points(pairs.source)
        tensors["ref_text"], tensors["ref_chars"] = code_points(pairs.target)
    return TensorBatches(tensors, time_keys=("src",))


def read_input_pairs(path: Path, d: TranslateData) -> ParallelText:
    """A user's ``SOURCE<TAB>TARGET`` file, normalised as the training data was (no pair is
    dropped: every line is scored)."""
    pairs = read_tsv(path)
    if d.reverse:
        pairs = pairs.swapped()
    cleaned, _ = clean_pairs(pairs, d.normalization, dedupe=False, max_words=0)
    return cleaned
