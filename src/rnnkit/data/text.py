"""Text: reading UTF-8 files, one tokenizer (characters or words) and one vocabulary for rnnkit.

Every text task uses the same three pieces:

* :func:`read_text` reads UTF-8 files and refuses, naming the file, what is missing, empty or
  not text (NUL bytes, invalid UTF-8).
* :class:`Tokenizer` cuts text into characters or words (words, numbers and single punctuation
  marks; optionally newlines as tokens), optionally lower-cased; :meth:`Tokenizer.detokenize`
  joins tokens back into readable text.
* :class:`Vocabulary` maps tokens to integer ids. Build it on the training split only
  (:meth:`Vocabulary.build`, with ``min_freq`` and ``max_size``); tokens it has not seen map to
  ``<unk>`` or raise, as the caller chooses. It saves to and loads from JSON.

Example::

    tok = Tokenizer("word", lower=True)
    vocab = Vocabulary.build(tok.tokenize(train_text), min_freq=2)
    ids = vocab.encode(tok.tokenize("This is the first sentence."))  # list[int]
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import DataError

UNK = "<unk>"
PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"

# A word: letters/digits/underscore with inner apostrophes or hyphens ("o'er", "well-a-day");
# otherwise any single character that is not whitespace (punctuation, symbols).
_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
_WORD_OR_NEWLINE = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]|\n")
# Detokenizing words: no space before closing punctuation, none after opening brackets.
_NO_SPACE_BEFORE = set(".,;:!?)]}%")
_NO_SPACE_AFTER = set("([{")


def read_text(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> str:
    """The UTF-8 text of one file, or of several joined in order (each ends with a newline).

    Raises FileNotFoundError naming a missing file, and ValueError naming a file that is empty,
    holds NUL bytes (binary data) or is not valid UTF-8 (with the byte offset).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError("no text files given")
    parts = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such text file")
        raw = path.read_bytes()
        if not raw.strip():
            raise DataError(f"{path}: the file is empty (no text to read)")
        if b"\0" in raw[: 1 << 20]:
            raise DataError(f"{path}: looks like a binary file (it holds NUL bytes), not text")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{path}: not UTF-8 text (invalid byte {raw[error.start]:#04x} at offset "
                f"{error.start}); convert it to UTF-8 first"
            ) from None
        text = text.replace("\r\n", "\n")
        parts.append(text if text.endswith("\n") or len(paths) == 1 else text + "\n")
    return "".join(parts)


@dataclass(frozen=True)
class Tokenizer:
    """Cuts text into tokens: characters or words.

    Args:
        level: ``"char"`` — every character is a token (spaces and newlines included), so
            ``detokenize`` gives the text back exactly; ``"word"`` — words (with inner
            apostrophes and hyphens), numbers and single punctuation marks; whitespace is dropped.
        lower: lower-case the text first.
        newlines: at word level, keep each newline as a token ``"\\n"`` (language models need
            line structure; classifiers usually do not).
    """

    level: str = "char"
    lower: bool = False
    newlines: bool = False

    def __post_init__(self) -> None:
        if self.level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {self.level!r}")

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``, in order."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.lower:
            text = text.lower()
        if self.level == "char":
            return list(text)
        return (_WORD_OR_NEWLINE if self.newlines else _WORD).findall(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Text from tokens: characters are concatenated; words are joined by spaces, except
        before closing punctuation, after opening brackets and around newlines."""
        if self.level == "char":
            return "".join(tokens)
        out: list[str] = []
        previous = "\n"
        for token in tokens:
            glue = (
                token == "\n"
                or previous == "\n"
                or token in _NO_SPACE_BEFORE
                or previous in _NO_SPACE_AFTER
            )
            out.append(token if glue else " " + token)
            previous = token
        return "".join(out)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Tokenizer:
        return cls(**data)


class Vocabulary:
    """A bijection between tokens and ids ``0 … len-1``: special tokens first, then the rest.

    Args:
        tokens: the tokens in id order, specials included.
        specials: the special tokens (a prefix of ``tokens``), e.g. ``("<unk>",)`` or
            ``("<pad>", "<unk>")``.
        unk: the token that unseen tokens map to (must be one of ``specials``), or None for a
            closed vocabulary where unseen tokens are an error.

    Build one from data with :meth:`build`; ``vocab["the"]`` is an id, ``vocab.tokens[i]`` a token.
    """

    def __init__(
        self, tokens: Sequence[str], specials: Sequence[str] = (UNK,), unk: str | None = UNK
    ) -> None:
        tokens, specials = list(tokens), list(specials)
        if tokens[: len(specials)] != specials:
            raise ValueError(f"tokens must start with the specials {specials}, got {tokens[:5]}")
        if unk is not None and unk not in specials:
            raise ValueError(f"unk must be one of the specials {specials} or None, got {unk!r}")
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            duplicates = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"tokens must be unique, got duplicates {duplicates[:10]}")
        self.tokens: list[str] = tokens
        self.specials: list[str] = specials
        self.unk: str | None = unk
        self._index = index

    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (UNK,),
        unk: str | None = UNK,
    ) -> Vocabulary:
        """The vocabulary of ``tokens`` (the training split only — never validation or test).

        Keeps tokens seen at least ``min_freq`` times, the most frequent first (ties in
        alphabetical order, so the ids are reproducible), at most ``max_size`` of them besides
        the specials.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
            raise ValueError(f"max_size must be None or an integer >= 1, got {max_size!r}")
        counts = Counter(tokens)
        for special in specials:
            counts.pop(special, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[:max_size]
        return cls([*specials, *kept], specials, unk)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (the ``<unk>`` id when unseen; KeyError if there is no unk)."""
        index = self._index.get(token)
        if index is not None:
            return index
        if self.unk is None:
            raise KeyError(f"token {token!r} is not in the vocabulary (and it has no unk token)")
        return self._index[self.unk]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and (
            (self.tokens, self.specials, self.unk) == (other.tokens, other.specials, other.unk)
        )

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, specials={self.specials}, unk={self.unk!r})"

    @property
    def unk_index(self) -> int | None:
        return None if self.unk is None else self._index[self.unk]

    @property
    def pad_index(self) -> int | None:
        return self._index.get(PAD)

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of ``tokens`` that are not in the vocabulary, in order of first
        appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self._index))

    def encode(self, tokens: Iterable[str], strict: bool = False) -> list[int]:
        """Ids of ``tokens``. Unseen tokens map to ``<unk>``, or, with ``strict`` (or without an
        unk token), raise ValueError listing them."""
        tokens = list(tokens)
        if strict or self.unk is None:
            missing = self.unknown(tokens)
            if missing:
                shown = ", ".join(repr(t) for t in missing[:20])
                more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
                raise DataError(
                    f"{len(missing)} token(s) not in the vocabulary of {len(self)}: {shown}{more}"
                )
        unk = self.unk_index
        get = self._index.get
        return [get(t, unk) for t in tokens]  # type: ignore[misc]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` (ints or a 1-D integer tensor/array)."""
        tokens = self.tokens
        try:
            return [tokens[int(i)] for i in ids]
        except IndexError:
            bad = [int(i) for i in ids if not 0 <= int(i) < len(tokens)]
            raise DataError(
                f"ids {bad[:10]} are outside the vocabulary (0 … {len(tokens) - 1})"
            ) from None

    # -------------------------------------------------------------------------------- save/load
    def to_dict(self) -> dict:
        return {
            "format": "rnnkit.vocabulary",
            "version": 1,
            "specials": self.specials,
            "unk": self.unk,
            "tokens": self.tokens,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        if not isinstance(data, dict) or data.get("format") != "rnnkit.vocabulary":
            raise DataError("not an rnnkit vocabulary (expected format 'rnnkit.vocabulary')")
        return cls(data["tokens"], data["specials"], data["unk"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, indent=0)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`; errors name the file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such vocabulary file")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: cannot read the vocabulary ({error})") from error
