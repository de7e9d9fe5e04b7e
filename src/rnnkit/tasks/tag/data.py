"""The tag task's data: reading the splits, vocabularies fitted on train, sentences as tensors.

State (saved with every checkpoint, JSON): the word and character vocabularies (training split
only, then the words of a vector file; ``trained_words`` counts the first), the tag set the
model predicts, the files' scheme and the model's encoding, how files were read. Tensors of a
split (``TensorBatches``, one row per sentence, right-padded):

* ``words`` (N, T) word ids (lower-cased when ``data.lower``; ``<unk>`` for unseen words),
* ``chars`` (N, T, C) character ids of each word (its first C = ``data.max_word_length``),
* ``lengths`` (N,) tokens per sentence, ``tags`` (N, T) tag ids (when the file is tagged).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.config import ConfigError
from rnnkit.data import DataError, TensorBatches
from rnnkit.data.conll import (
    Sentence,
    check_scheme,
    looks_like_conllu,
    read_lines,
    read_tagged,
    read_token_lines,
)
from rnnkit.data.datasets import ud_ewt, wnut17
from rnnkit.data.schemes import bioes_to_iob2, detect_scheme, iob2_to_bioes, split_tag, to_iob2
from rnnkit.data.text import PAD, UNK, Vocabulary

from .config import TagData

SPLITS = ("train", "validation", "test")
DATASETS = {"ud-ewt": ud_ewt, "wnut17": wnut17}
COLUMN_SUFFIXES = (".conll", ".bio", ".iob", ".iob2", ".bioes", ".tsv", ".annotated")


def split_paths(d: TagData) -> dict[str, Path | None]:
    """The file of each split: ``data.train/validation/test``, else the data set's own."""
    if d.train:
        return {
            "train": Path(d.train),
            "validation": Path(d.validation) if d.validation else None,
            "test": Path(d.test) if d.test else None,
        }
    if d.validation or d.test:
        raise ConfigError(
            "data.validation and data.test go with data.train (a data set has its own)"
        )
    return dict(DATASETS[d.dataset].paths(d.data_dir or None))


def read_split(path: Path, d: TagData, require_tags: bool = True) -> list[Sentence]:
    """One tagged file as ``data.format``/``field``/``tag_column`` say."""
    return read_tagged(path, d.format, d.field, d.tag_column, require_tags)


def resolve_scheme(d: TagData, train: list[Sentence]) -> str:
    """The files' scheme: ``data.scheme``, or for ``auto`` none (CoNLL-U) or a guess."""
    if d.scheme != "auto":
        return d.scheme
    if train and train[0].conllu is not None:
        return "none"
    return detect_scheme([s.tags for s in train])


def model_tags(sentence_tags: Sequence[Sequence[str]], scheme: str, encoding: str) -> list[str]:
    """The tag set the model predicts: plain tags by frequency; for chunk schemes ``O`` and every
    prefix of the encoding for each entity type seen."""
    counts = Counter(t for tags in sentence_tags for t in tags)
    if scheme == "none":
        return sorted(counts, key=lambda t: (-counts[t], t))
    kinds = sorted({split_tag(t)[1] for t in counts if t != "O"})
    prefixes = "BI" if encoding == "iob2" else "BIES"
    return ["O", *(f"{p}-{k}" for k in kinds for p in prefixes)]


def to_model_tags(tags: Sequence[str], scheme: str, encoding: str) -> list[str]:
    """File tags (already checked) in the model's encoding."""
    if scheme == "none":
        return list(tags)
    iob2 = to_iob2(tags, scheme)
    return iob2_to_bioes(iob2) if encoding == "bioes" else iob2


def from_model_tags(tags: Sequence[str], state: Mapping[str, Any]) -> list[str]:
    """Model tags as written and scored: IOB2 for chunk tags, unchanged otherwise."""
    return bioes_to_iob2(tags) if state["encoding"] == "bioes" else list(tags)


def build_state(
    train: list[Sentence], d: TagData, scheme: str, vector_words: Sequence[str] = ()
) -> dict[str, Any]:
    """Vocabularies and tag set from the training sentences (never validation or test); the
    words of a vector file (``vector_words``) join the word vocabulary after them."""
    encoding = "none" if scheme == "none" else d.encoding
    words = [w.lower() if d.lower else w for s in train for w in s.tokens]
    vocabulary = Vocabulary.build(words, d.min_freq, specials=(PAD, UNK))
    trained = len(vocabulary)  # ids below this are learned; the vector file's other words are not
    if vector_words:
        known = set(vocabulary.tokens)
        extra = [w for w in dict.fromkeys(vector_words) if w not in known]
        vocabulary = Vocabulary([*vocabulary.tokens, *extra], vocabulary.specials, UNK)
    chars = (c for s in train for w in s.tokens for c in w[: d.max_word_length])
    tags = [to_model_tags(s.tags, scheme, encoding) for s in train]
    return {
        "words": vocabulary.to_dict(),
        "trained_words": trained,
        "chars": Vocabulary.build(chars, specials=(PAD, UNK)).to_dict(),
        "tags": model_tags(tags, scheme, encoding),
        "scheme": scheme,
        "encoding": encoding,
        "lower": d.lower,
        "max_word_length": d.max_word_length,
        "format": "conllu" if train[0].conllu is not None else "columns",
        "field": d.field,
        "tag_column": d.tag_column,
    }


def encode(sentences: Sequence[Sentence], state: Mapping[str, Any]) -> TensorBatches:
    """Sentences as right-padded tensors (see the module docstring); tags when all have them."""
    words = Vocabulary.from_dict(state["words"])
    chars = Vocabulary.from_dict(state["chars"])
    C, lower = state["max_word_length"], state["lower"]
    N = len(sentences)
    T = max(len(s.tokens) for s in sentences)
    lengths = np.array([len(s.tokens) for s in sentences], dtype=np.int64)
    word_ids = np.zeros((N, T), dtype=np.int64)
    char_ids = np.zeros((N, T, C), dtype=np.int16 if len(chars) < 2**15 else np.int32)
    for n, s in enumerate(sentences):
        word_ids[n, : len(s.tokens)] = words.encode(w.lower() if lower else w for w in s.tokens)
        for t, w in enumerate(s.tokens):
            ids = chars.encode(w[:C])
            char_ids[n, t, : len(ids)] = ids
    tensors = {
        "words": torch.from_numpy(word_ids),
        "chars": torch.from_numpy(char_ids),
        "lengths": torch.from_numpy(lengths),
    }
    if all(s.tags is not None for s in sentences):
        tensors["tags"] = torch.from_numpy(tag_ids(sentences, state, T))
    return TensorBatches(tensors, time_keys=("words", "chars", "tags"))


def tag_ids(sentences: Sequence[Sentence], state: Mapping[str, Any], T: int) -> np.ndarray:
    """(N, T) ids of the sentences' tags in the model's tag set (checked against the scheme)."""
    scheme, encoding = state["scheme"], state["encoding"]
    check_scheme(sentences, scheme)
    index = {t: i for i, t in enumerate(state["tags"])}
    out = np.zeros((len(sentences), T), dtype=np.int64)
    for n, s in enumerate(sentences):
        for t, tag in enumerate(to_model_tags(s.tags, scheme, encoding)):
            if tag not in index:
                raise DataError(
                    f"{s.where(t)}: tag {s.tags[t]!r} does not occur in the training data "
                    f"({len(index)} tags)"
                )
            out[n, t] = index[tag]
    return out


def load_splits(
    d: TagData, vector_words: Sequence[str] = ()
) -> tuple[dict[str, list[Sentence] | None], dict[str, Any]]:
    """The sentences of each split and the state fitted on train (and a vector file's words);
    with ``data.train_with_validation`` the validation sentences join train."""
    paths = split_paths(d)
    sentences = {
        name: None if path is None else read_split(path, d) for name, path in paths.items()
    }
    if d.train_with_validation:
        if sentences["validation"] is None:
            raise ConfigError("data.train_with_validation: there is no validation split to add")
        sentences["train"] = sentences["train"] + sentences["validation"]
        sentences["validation"] = None
    train = sentences["train"]
    scheme = resolve_scheme(d, train)
    check_scheme(train, scheme)
    return sentences, build_state(train, d, scheme, vector_words)


def read_input(path: str | os.PathLike, state: Mapping[str, Any]) -> list[Sentence]:
    """A user's file for ``evaluate --data`` or ``predict``: CoNLL-U (by name or content), a
    column file (a tab on its first line, or a .conll/.bio/.tsv ... name), else one sentence
    per line with tokens separated by spaces. Tags are read when present."""
    path = Path(path)
    lines = read_lines(path)
    first = next(line for line in lines if line.strip())
    if looks_like_conllu(path, lines):
        return read_tagged(path, "conllu", state["field"], require_tags=False)
    if "\t" in first or path.name.lower().endswith(COLUMN_SUFFIXES):
        return read_tagged(path, "columns", tag_column=state["tag_column"], require_tags=False)
    return read_token_lines(path)
