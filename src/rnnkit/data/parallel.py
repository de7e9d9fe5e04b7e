"""Parallel text: sentence pairs from a tab-separated file or two aligned files, cleaned.

* :func:`read_tsv` — ``SOURCE<TAB>TARGET`` lines (further columns, e.g. an attribution, are
  ignored); :func:`parse_tsv` does the same for bytes already in memory (a member of a zip).
* :func:`read_aligned` — two UTF-8 files whose line k are translations of each other;
  :func:`read_sentences` — one file of sentences, one a line.
* :func:`clean_pairs` — Unicode normalisation (NFKC by default: compatibility characters such
  as the narrow no-break space before French punctuation become plain ones), whitespace
  collapsed, identical pairs dropped, optionally pairs longer than a number of words.
* :func:`write_tsv` — pairs back to a TSV file (the split files a run directory keeps).

Every refusal is a :class:`DataError` naming the file and the 1-based line: a file that is not
UTF-8, an empty line, a line without a tab, an empty sentence, files of different lengths.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import DataError

Normalization = Literal["NFKC", "NFC", "none"]
_SPACE = re.compile(r"\s+")


@dataclass
class ParallelText:
    """Aligned sentence pairs and where each came from.

    Attributes:
        source: the source sentences.
        target: their translations, ``target[i]`` of ``source[i]``.
        lines: the 1-based line of each pair in ``path``.
        path: the file (or files) the pairs were read from, for messages.
    """

    source: list[str]
    target: list[str]
    lines: list[int] = field(default_factory=list)
    path: str = "<pairs>"

    def __len__(self) -> int:
        return len(self.source)

    def subset(self, index) -> ParallelText:
        """The pairs at ``index`` (a sequence of positions), in that order."""
        index = [int(i) for i in index]
        lines = [self.lines[i] for i in index] if self.lines else []
        return ParallelText(
            [self.source[i] for i in index], [self.target[i] for i in index], lines, self.path
        )

    def swapped(self) -> ParallelText:
        """The same pairs translating the other way."""
        return ParallelText(self.target, self.source, self.lines, self.path)


def normalize_text(text: str, form: Normalization = "NFKC") -> str:
    """``text`` in Unicode normal form ``form`` (or as it is for ``"none"``), with runs of
    whitespace collapsed to one space and the ends stripped."""
    if form != "none":
        text = unicodedata.normalize(form, text)
    return _SPACE.sub(" ", text).strip()


def _decode_lines(raw: bytes, name: str) -> list[str]:
    """The lines of UTF-8 ``raw`` (a final newline ends the last line; CRLF accepted)."""
    if not raw.strip():
        raise DataError(f"{name}: the file is empty (no sentence pairs to read)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    chunks = raw.split(b"\n")
    if chunks[-1] == b"":
        chunks.pop()
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        if b"\0" in chunk:
            raise DataError(f"{name}: line {number}: holds a NUL byte: a binary file, not text")
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{name}: line {number}: not UTF-8 text (invalid byte {chunk[error.start]:#04x} "
                f"at byte {error.start + 1} of the line); convert the file to UTF-8 first"
            ) from None
        lines.append(line.removesuffix("\r"))
    return lines


def _read_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path.read_bytes()


def parse_tsv(raw: bytes, name: str) -> ParallelText:
    """Sentence pairs from the bytes of a ``SOURCE<TAB>TARGET[<TAB>...]`` file named ``name``."""
    source, target, numbers = [], [], []
    for number, line in enumerate(_decode_lines(raw, name), start=1):
        if not line.strip():
            raise DataError(f"{name}: line {number}: empty line; expected SOURCE<TAB>TARGET")
        parts = line.split("\t")
        if len(parts) < 2:
            raise DataError(
                f"{name}: line {number}: no tab; expected SOURCE<TAB>TARGET, got {line[:60]!r}"
            )
        for column, text in ((1, parts[0]), (2, parts[1])):
            if not text.strip():
                what = "source" if column == 1 else "target"
                raise DataError(f"{name}: line {number}, column {column}: the {what} is empty")
        source.append(parts[0])
        target.append(parts[1])
        numbers.append(number)
    return ParallelText(source, target, numbers, name)


def read_tsv(path: str | os.PathLike) -> ParallelText:
    """Sentence pairs from a UTF-8 ``SOURCE<TAB>TARGET`` file (extra columns ignored)."""
    return parse_tsv(_read_bytes(path), str(path))


def read_aligned(source_path: str | os.PathLike, target_path: str | os.PathLike) -> ParallelText:
    """Sentence pairs from two UTF-8 files, one sentence a line, line k translating line k."""
    sides = [read_sentences(source_path), read_sentences(target_path)]
    if len(sides[0]) != len(sides[1]):
        raise DataError(
            f"{source_path}: {len(sides[0])} lines, but {target_path} has {len(sides[1])}; the "
            f"two files must be aligned line by line"
        )
    numbers = list(range(1, len(sides[0]) + 1))
    return ParallelText(sides[0], sides[1], numbers, f"{source_path} + {target_path}")


def read_sentences(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 file of sentences, one a line (an empty line is refused)."""
    lines = _decode_lines(_read_bytes(path), str(path))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}: line {number}: empty line; expected a sentence")
    return lines


def clean_pairs(
    pairs: ParallelText,
    normalization: Normalization = "NFKC",
    dedupe: bool = True,
    max_words: int = 0,
) -> tuple[ParallelText, dict[str, int]]:
    """Normalised pairs: duplicates (after normalisation) and, with ``max_words`` > 0, pairs
    with more words (whitespace-separated) on either side dropped; the first of identical
    pairs is kept. Returns the pairs and counts ``{"read", "duplicates", "too_long", "kept"}``.
    """
    seen: set[tuple[str, str]] = set()
    keep: list[int] = []
    source, target = [], []
    duplicates = too_long = 0
    for i, (s, t) in enumerate(zip(pairs.source, pairs.target)):
        s, t = normalize_text(s, normalization), normalize_text(t, normalization)
        if max_words and (len(s.split(" ")) > max_words or len(t.split(" ")) > max_words):
            too_long += 1
            continue
        if dedupe:
            if (s, t) in seen:
                duplicates += 1
                continue
            seen.add((s, t))
        keep.append(i)
        source.append(s)
        target.append(t)
    lines = [pairs.lines[i] for i in keep] if pairs.lines else []
    counts = {"read": len(pairs), "duplicates": duplicates, "too_long": too_long,
              "kept": len(keep)}  # fmt: skip
    if not keep:
        raise DataError(f"{pairs.path}: no sentence pair is left after cleaning ({counts})")
    return ParallelText(source, target, lines, pairs.path), counts


def write_tsv(path: str | os.PathLike, pairs: ParallelText) -> None:
    """Write ``SOURCE<TAB>TARGET`` lines (UTF-8, one pair a line)."""
    for text in (*pairs.source, *pairs.target):
        if "\t" in text or "\n" in text:
            raise ValueError(f"a sentence holds a tab or newline and cannot be written: {text!r}")
    Path(path).write_text(
        "".join(f"{s}\t{t}\n" for s, t in zip(pairs.source, pairs.target)), encoding="utf-8"
    )
