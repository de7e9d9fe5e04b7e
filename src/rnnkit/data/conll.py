"""Tagged sentences from CoNLL-U and CoNLL column files, and written back as CoNLL.

* :func:`read_conllu` — Universal Dependencies CoNLL-U (parsed by the ``conllu`` package): one
  word per line, 10 tab-separated columns; the tag is UPOS (column 4) or XPOS (column 5).
  Multiword-token ranges (``3-4``) and empty nodes (``8.1``) are skipped: the words of a range
  are tagged, not the surface token.
* :func:`read_columns` — column files (CoNLL-2003, WNUT): ``token TAB tag`` (or more columns,
  separated by tabs, else by spaces), a blank or whitespace-only line between sentences.
* :func:`read_token_lines` — untagged text: one sentence per line, tokens separated by spaces.
* :func:`read_tagged` — any of the first two, by name (``.conllu``) or by content.
* :func:`write_columns`, :func:`write_conllu` — predictions beside the tokens (and the gold tags).

Files may be gzipped (read by their magic bytes). Every refusal is a :class:`DataError` that
names the file and the 1-based line: not UTF-8, a wrong column count, an unparsable CoNLL-U
line, a missing tag, a tag outside the file's scheme (:mod:`.schemes`).
"""

from __future__ import annotations

import copy
import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import conllu
from conllu.exceptions import ParseException

from .errors import DataError
from .schemes import check_tags

CONLLU_FIELDS = ("upos", "xpos")


@dataclass
class Sentence:
    """One sentence: its tokens, their tags (None in an untagged file), where they came from.

    Attributes:
        tokens: the word forms.
        tags: one tag per token, or None.
        lines: the 1-based line of each token in its file (for error messages).
        source: the file.
        conllu: for CoNLL-U input, the parsed sentence (comments, ranges and all columns), so
            that predictions can be written back into it.
    """

    tokens: list[str]
    tags: list[str] | None
    lines: list[int]
    source: str
    conllu: conllu.TokenList | None = field(default=None, repr=False)

    def where(self, i: int) -> str:
        """``"file: line N"`` of token ``i``."""
        return f"{self.source}: line {self.lines[i]}"


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file, gzipped or not (no line endings)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: a broken gzip file ({error})") from None
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise DataError(f"{path}: line {line}: holds a NUL byte: a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}: line {line}: not UTF-8 (byte {raw[error.start]:#04x}); convert the file "
            f"to UTF-8 first"
        ) from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise DataError(f"{path}: the file is empty")
    return lines


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines: (1-based number of the first line, the lines)."""
    start, block = 0, []
    for i, line in enumerate(lines):
        if line.strip():
            if not block:
                start = i + 1
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def read_conllu(
    path: str | os.PathLike, field: str = "upos", require_tags: bool = True
) -> list[Sentence]:
    """The sentences of a CoNLL-U file, tagged with ``field`` (``"upos"`` or ``"xpos"``).

    A tag of ``_`` is a missing tag: refused when ``require_tags``, else the file is read as
    untagged (``tags`` None).
    """
    if field not in CONLLU_FIELDS:
        raise ValueError(f"field must be one of {CONLLU_FIELDS}, got {field!r}")
    source = str(path)
    sentences = []
    for start, block in _blocks(read_lines(path)):
        numbers = [start + i for i, line in enumerate(block) if not line.startswith("#")]
        for number, line in zip(numbers, (line for line in block if not line.startswith("#"))):
            columns = line.count("\t") + 1
            if columns != 10:
                raise DataError(
                    f"{source}: line {number}: {columns} tab-separated column"
                    f"{'s' if columns != 1 else ''}, CoNLL-U has 10"
                )
        try:
            parsed = conllu.parse_token_and_metadata("\n".join(block))
        except ParseException as error:
            raise DataError(f"{source}: line {_bad_line(block, start)}: {error}") from None
        tokens, tags, lines = [], [], []
        for token, number in zip(parsed, numbers):
            if not isinstance(token["id"], int):  # a multiword range or an empty node
                continue
            tokens.append(token["form"])
            tags.append(token[field])
            lines.append(number)
        if not tokens:
            raise DataError(f"{source}: line {start}: a sentence with no words")
        sentences.append(Sentence(tokens, tags, lines, source, parsed))
    _check_present(sentences, require_tags, f"no {field.upper()} tag ('_')")
    return sentences


def _bad_line(block: list[str], start: int) -> int:
    """The line of ``block`` that ``conllu`` cannot parse (the block's first, if none alone)."""
    for i, line in enumerate(block):
        if line.startswith("#"):
            continue
        try:
            conllu.parse_token_and_metadata(line)
        except ParseException:
            return start + i
    return start


def _check_present(sentences: list[Sentence], require_tags: bool, missing: str) -> None:
    """Turn ``_``/None tags into an error (``require_tags``) or an untagged file."""
    absent = [(s, i) for s in sentences for i, t in enumerate(s.tags or []) if t in (None, "_")]
    if not absent:
        return
    if require_tags:
        sentence, i = absent[0]
        raise DataError(f"{sentence.where(i)}: {missing}")
    for sentence in sentences:
        sentence.tags = None


def read_columns(
    path: str | os.PathLike, tag_column: int = -1, require_tags: bool = True
) -> list[Sentence]:
    """The sentences of a column file: the token in the first column, the tag in ``tag_column``.

    Every token line must have the same number of columns as the file's first one; a file of
    one column is untagged (refused when ``require_tags``). Lines starting ``-DOCSTART-`` are
    document markers and are skipped.
    """
    source = str(path)
    sentences = []
    width = None
    for start, block in _blocks(read_lines(path)):
        tokens, tags, lines = [], [], []
        for i, line in enumerate(block):
            number = start + i
            columns = line.split("\t") if "\t" in line else line.split()
            columns = [c.strip() for c in columns]
            if width is None:
                width = len(columns)
                if require_tags and width < 2:
                    raise DataError(
                        f"{source}: line {number}: one column; expected a token and its tag"
                    )
                if width > 1 and not -width <= tag_column < width:
                    raise DataError(
                        f"{source}: line {number}: {width} columns, no tag column {tag_column}"
                    )
            if len(columns) != width:
                raise DataError(
                    f"{source}: line {number}: {len(columns)} columns, expected {width} as on the "
                    f"file's first line"
                )
            if columns[0] == "-DOCSTART-":
                continue
            if not columns[0]:
                raise DataError(f"{source}: line {number}: an empty token")
            tokens.append(columns[0])
            tags.append(columns[tag_column] if width > 1 else None)
            lines.append(number)
        if tokens:
            sentences.append(Sentence(tokens, tags if width > 1 else None, lines, source))
    _check_present(sentences, require_tags, "no tag")
    if not sentences:
        raise DataError(f"{source}: no sentences")
    return sentences


def read_token_lines(path: str | os.PathLike) -> list[Sentence]:
    """Untagged sentences, one per line, tokens separated by whitespace (blank lines skipped)."""
    source = str(path)
    return [
        Sentence(line.split(), None, [i + 1] * len(line.split()), source)
        for i, line in enumerate(read_lines(path))
        if line.strip()
    ]


def looks_like_conllu(path: str | os.PathLike, lines: Sequence[str] | None = None) -> bool:
    """True for ``.conllu``/``.conllu.gz`` names, or a first word line of 10 tab-separated
    columns that starts with a word id."""
    name = Path(path).name.lower()
    if name.endswith((".conllu", ".conllu.gz")):
        return True
    for line in lines if lines is not None else read_lines(path):
        if line.strip() and not line.startswith("#"):
            first = line.split("\t")
            return len(first) == 10 and first[0].split("-")[0].split(".")[0].isdigit()
    return False


def read_tagged(
    path: str | os.PathLike,
    format: str = "auto",
    field: str = "upos",
    tag_column: int = -1,
    require_tags: bool = True,
) -> list[Sentence]:
    """Sentences of a CoNLL-U (``format="conllu"``) or column file (``"columns"``); ``"auto"``
    tells them apart by name and content."""
    if format not in ("auto", "conllu", "columns"):
        raise ValueError(f"format must be auto, conllu or columns, got {format!r}")
    if format == "auto":
        format = "conllu" if looks_like_conllu(path) else "columns"
    if format == "conllu":
        return read_conllu(path, field, require_tags)
    return read_columns(path, tag_column, require_tags)


def check_scheme(sentences: Sequence[Sentence], scheme: str) -> None:
    """Refuse, naming the file and line, the first tag that ``scheme`` does not allow."""
    for sentence in sentences:
        if sentence.tags is not None:
            check_tags(
                sentence.tags, scheme, [sentence.where(i) for i in range(len(sentence.tags))]
            )


def write_columns(
    path: str | os.PathLike,
    sentences: Sequence[Sentence],
    predicted: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]] | None = None,
) -> int:
    """Write ``token [gold] predicted`` lines (tab-separated, the conlleval layout), a blank
    line after each sentence; returns the number of sentences. The gold tags are ``gold``, else
    the sentences' own (none for untagged sentences)."""
    golds = gold if gold is not None else [s.tags for s in sentences]
    with Path(path).open("w", encoding="utf-8") as f:
        for sentence, tags, known in zip(sentences, predicted, golds, strict=True):
            for i, (token, tag) in enumerate(zip(sentence.tokens, tags, strict=True)):
                f.write("\t".join([token, *([known[i]] if known else []), tag]) + "\n")
            f.write("\n")
    return len(sentences)


def write_conllu(
    path: str | os.PathLike,
    sentences: Sequence[Sentence],
    predicted: Sequence[Sequence[str]],
    field: str = "upos",
) -> int:
    """Write CoNLL-U sentences with ``field`` replaced by the predicted tags (every other column,
    comment, range and empty node as read); returns the number of sentences."""
    with Path(path).open("w", encoding="utf-8") as f:
        for sentence, tags in zip(sentences, predicted, strict=True):
            if sentence.conllu is None:
                raise ValueError(f"{sentence.source}: not read from CoNLL-U, cannot write it so")
            words = iter(tags)
            out = copy.deepcopy(sentence.conllu)
            for token in out:
                if isinstance(token["id"], int):
                    token[field] = next(words)
            f.write(out.serialize())
    return len(sentences)
