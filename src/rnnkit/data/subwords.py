"""Subword tokenisation (BPE or unigram) with the ``tokenizers`` package, saved as JSON.

Text is cut at spaces (each word's first piece carries ``▁`` for the space before it, as in
SentencePiece) and around punctuation, then into subwords learned on the training text only:
byte-pair merges (``"bpe"``, Sennrich et al. 2016) or a unigram language model (``"unigram"``,
Kudo 2018). Decoding joins the pieces and turns ``▁`` back into spaces, so ``decode(encode(s))``
gives ``s`` back for any whitespace-normalised ``s`` whose characters were seen in training.
Characters never seen become ``<unk>``; :meth:`SubwordTokenizer.decode` can put a text in the
place of each (the source words a translation model attended to).

Ids 0-3 are the specials ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>``, in every vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SubwordModel = Literal["bpe", "unigram"]
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)


class SubwordTokenizer:
    """A trained subword vocabulary: text <-> ids.

    Build one with :meth:`train`; save it with :meth:`to_str` and load with :meth:`from_str`.
    ``encode(texts)`` -> lists of ids (no specials added); ``decode(ids)`` -> text (specials
    other than ``<unk>`` dropped).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        for i, special in enumerate(SPECIALS):
            if tokenizer.token_to_id(special) != i:
                raise ValueError(f"the tokenizer must have {special!r} at id {i}")
        self.tokenizer = tokenizer

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        model: SubwordModel = "bpe",
        min_frequency: int = 2,
    ) -> SubwordTokenizer:
        """Learn ``vocab_size`` subwords (specials included) from ``texts``."""
        if vocab_size <= len(SPECIALS):
            raise ValueError(f"vocab_size must exceed {len(SPECIALS)}, got {vocab_size}")
        if model == "bpe":
            tok = Tokenizer(models.BPE(unk_token=SPECIALS[UNK]))
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size,
                min_frequency=min_frequency,
                special_tokens=list(SPECIALS),
                show_progress=False,
            )
        elif model == "unigram":
            tok = Tokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(
                vocab_size=vocab_size,
                special_tokens=list(SPECIALS),
                unk_token=SPECIALS[UNK],
                show_progress=False,
            )
        else:
            raise ValueError(f"model must be 'bpe' or 'unigram', got {model!r}")
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()]
        )
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(texts, trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids of each text."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def pieces(self, text: str) -> tuple[list[str], list[tuple[int, int]]]:
        """The pieces of ``text`` and the character span ``[start, end)`` each came from."""
        encoding = self.tokenizer.encode(text)
        return encoding.tokens, encoding.offsets

    def decode(self, ids: Sequence[int], unknown: Callable[[int], str] | None = None) -> str:
        """Text from ids: ``<pad>``, ``<bos>`` and ``<eos>`` dropped; the piece at position k
        that is ``<unk>`` becomes ``unknown(k)`` when given (else stays ``<unk>``)."""
        tokens = []
        for k, i in enumerate(ids):
            if i in (PAD, BOS, EOS):
                continue
            if i == UNK and unknown is not None:
                tokens.append(unknown(k))
            else:
                tokens.append(self.tokenizer.id_to_token(int(i)))
        return self.tokenizer.decoder.decode(tokens)

    def to_str(self) -> str:
        """The whole tokenizer as a JSON string (what a checkpoint's task state keeps)."""
        return self.tokenizer.to_str()

    @classmethod
    def from_str(cls, data: str) -> SubwordTokenizer:
        return cls(Tokenizer.from_str(data))
