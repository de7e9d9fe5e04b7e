"""From raw documents to token ids: each step a documented option of ``--text.*``.

The pipeline, in order (everything fitted is fitted on the training split only)::

    text  -> strip HTML (tags -> space, entities unescaped)        --text.strip_html
          -> lower-case                                            --text.lower
          -> tokens: words (rnnkit.data.text.Tokenizer), or BPE /
             unigram subwords trained on the training texts         --text.tokenizer
          -> drop stop words (English list of the stop-words
             package; negations kept unless told otherwise)        --text.stopwords
          -> Snowball (Porter 2) stems                              --text.stem
          -> ids of a vocabulary built on training tokens
             (<pad> = 0, <unk> = 1, min_freq, max_size)             --text.min_freq/max_vocab
          -> truncation to max_length: head, tail or head+tail     --text.truncation

Padding comes last (:func:`encode`): (N, T) ids right-padded with ``<pad>`` and (N,) lengths.
Subword tokenisers come from the ``tokenizers`` package; their trained model is kept in the
task state as JSON, so a saved run tokenises new documents exactly as in training.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from rnnkit.config import Section, option
from rnnkit.data import DataError
from rnnkit.data.text import PAD, UNK, Tokenizer, Vocabulary

PAD_ID, UNK_ID = 0, 1
_TAG = re.compile(r"<[^>]{0,200}>")
_WORDS = Tokenizer("word")
# Negations carry sentiment ("not good"): kept when stop words are removed, unless told not to.
NEGATIONS = frozenset(
    {"no", "not", "nor", "never", "none", "nobody", "nothing", "nowhere", "neither", "cannot"}
    | {"without", "n't"}
)


@dataclass(frozen=True)
class TextPrep(Section):
    """How documents become token ids (fitted on the training split only)."""

    strip_html: bool = option(True, "replace HTML tags (<br /> ...) by spaces, unescape &amp; ...")
    lower: bool = option(True, "lower-case the text")
    tokenizer: Literal["word", "bpe", "unigram"] = option(
        "word",
        "word: words, numbers and punctuation marks; bpe / unigram: subwords trained on the "
        "training texts (tokenizers package)",
    )
    subword_vocab: int = option(16000, "bpe/unigram: the subword vocabulary size", low=100)
    stopwords: Literal["none", "english"] = option(
        "none", "drop stop words: none, or the stop-words package's English list"
    )
    keep_negations: bool = option(
        True, "keep no/not/never/... and words ending in n't when dropping stop words"
    )
    stem: bool = option(False, "reduce words to their Snowball (Porter 2) English stems")
    min_freq: int = option(2, "tokens seen fewer times in training map to <unk>", low=1)
    max_vocab: int = option(
        30000, "keep the most frequent tokens, at most this many (0: all)", low=0
    )
    max_length: int = option(400, "tokens kept per document (0: all)", low=0)
    truncation: Literal["head", "tail", "head+tail"] = option(
        "head+tail", "which tokens a long document keeps: its start, its end, or both"
    )
    head_share: float = option(
        0.25, "head+tail: the share of max_length taken from the start", low=0, high=1
    )


def strip_tags(text: str) -> str:
    """``text`` with HTML tags replaced by spaces and entities unescaped."""
    return html.unescape(_TAG.sub(" ", text))


def normalize(text: str, prep: TextPrep) -> str:
    """HTML stripped (when asked), typographic apostrophes made plain, lower-cased (when asked)."""
    if prep.strip_html:
        text = strip_tags(text)
    text = text.replace("\u2019", "'")
    return text.lower() if prep.lower else text


@lru_cache(maxsize=4)
def stop_words(keep_negations: bool) -> frozenset[str]:
    """The English stop words of the ``stop-words`` package (data inside its wheel), without
    the negations when ``keep_negations``."""
    from stop_words import get_stop_words

    words = {w.lower() for w in get_stop_words("en")}
    if keep_negations:
        words = {w for w in words if w not in NEGATIONS and not w.endswith("n't")}
    return frozenset(words)


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


class _StemCache(dict):
    """Stems of word types, computed once each (a corpus has far fewer types than tokens)."""

    def __missing__(self, word: str) -> str:
        stem = self[word] = _stemmer().stemWord(word)
        return stem


_STEMS = _StemCache()


def train_subwords(texts: Iterable[str], prep: TextPrep) -> str:
    """A BPE or unigram subword model trained on ``texts`` (already normalised), as JSON."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    specials = [PAD, UNK]
    if prep.tokenizer == "bpe":
        model = HFTokenizer(models.BPE(unk_token=UNK))
        trainer = trainers.BpeTrainer(
            vocab_size=prep.subword_vocab, min_frequency=prep.min_freq, special_tokens=specials,
            show_progress=False,
        )  # fmt: skip
    else:
        model = HFTokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=prep.subword_vocab, special_tokens=specials, unk_token=UNK,
            show_progress=False,
        )  # fmt: skip
    model.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    model.train_from_iterator(texts, trainer=trainer)
    return model.to_str()


@lru_cache(maxsize=2)
def _subword_model(serialized: str):
    from tokenizers import Tokenizer as HFTokenizer

    return HFTokenizer.from_str(serialized)


def tokenize(texts: Sequence[str], prep: TextPrep, subwords: str | None = None) -> list[list[str]]:
    """Tokens of each text after normalising, stop-word removal and stemming (no truncation).

    ``subwords``: the JSON of the trained subword model (``--text.tokenizer bpe|unigram``).
    """
    texts = [normalize(t, prep) for t in texts]
    if prep.tokenizer != "word":
        if subwords is None:
            raise ValueError(f"text.tokenizer={prep.tokenizer} needs a trained subword model")
        return [e.tokens for e in _subword_model(subwords).encode_batch(texts)]
    docs = [_WORDS.tokenize(t) for t in texts]
    if prep.stopwords != "none":
        drop = stop_words(prep.keep_negations)
        docs = [[w for w in doc if w not in drop] for doc in docs]
    if prep.stem:
        docs = [[_STEMS[w] for w in doc] for doc in docs]
    return docs


def fit(train_texts: Sequence[str], prep: TextPrep) -> tuple[dict[str, Any], list[list[str]]]:
    """The preprocessing state fitted on the training texts (subword model, vocabulary), and
    the training documents' tokens."""
    state: dict[str, Any] = {"subwords": None}
    if prep.tokenizer != "word":
        state["subwords"] = train_subwords((normalize(t, prep) for t in train_texts), prep)
    docs = tokenize(train_texts, prep, state["subwords"])
    vocab = Vocabulary.build(
        (token for doc in docs for token in doc),
        min_freq=1 if prep.tokenizer != "word" else prep.min_freq,
        max_size=prep.max_vocab or None,
        specials=(PAD, UNK),
    )
    state["vocab"] = vocab.to_dict()
    return state, docs


def truncate(ids: list[int], prep: TextPrep) -> list[int]:
    """``ids`` cut to ``max_length``: the first, the last, or the first ``head_share`` and the
    last rest of them."""
    n = prep.max_length
    if not n or len(ids) <= n:
        return ids
    if prep.truncation == "head":
        return ids[:n]
    if prep.truncation == "tail":
        return ids[-n:]
    head = int(round(n * prep.head_share))
    return ids[:head] + ids[len(ids) - (n - head) :]


def encode(
    docs: Sequence[Sequence[str]],
    prep: TextPrep,
    vocab: Vocabulary,
    names: Sequence[str] | None = None,
    where: str = "documents",
) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) int64 ids right-padded with ``<pad>`` (T the longest kept length) and (N,)
    lengths. A document left without tokens is a DataError naming it."""
    ids = []
    for i, doc in enumerate(docs):
        if not doc:
            name = names[i] if names is not None else f"document {i + 1}"
            raise DataError(f"{where}: {name}: no tokens left after preprocessing")
        ids.append(truncate(vocab.encode(doc), prep))
    lengths = np.array([len(d) for d in ids], dtype=np.int64)
    out = np.full((len(ids), int(lengths.max()) if len(ids) else 1), PAD_ID, dtype=np.int64)
    for i, d in enumerate(ids):
        out[i, : len(d)] = d
    return out, lengths


def vocabulary(state: Mapping[str, Any]) -> Vocabulary:
    """The vocabulary kept in a task state (checked to put ``<pad>``, ``<unk>`` at 0, 1)."""
    vocab = Vocabulary.from_dict(state["vocab"])
    if vocab.pad_index != PAD_ID or vocab.unk_index != UNK_ID:
        raise DataError("the saved vocabulary does not start with <pad>, <unk>")
    return vocab
