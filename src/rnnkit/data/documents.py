"""Documents: labelled (or unlabelled) texts read from a folder or a table.

Three layouts are read, each into :class:`Documents` (texts, labels, a name per document):

* a folder of ``LABEL/*.txt`` files (one document per file, the subfolder is its label), or a
  folder of bare ``*.txt`` files (unlabelled: what ``predict`` reads);
* a single ``.txt`` file: one unlabelled document;
* a CSV/TSV (``.csv``, ``.tsv``) or JSON-lines (``.jsonl``) file, gzipped or not, with a text
  column and optionally a label column (their names are options).

Every problem is one :class:`DataError` naming the file and, for tables, the row (1-based data
rows, the header not counted): a missing column, an empty document, text that is not UTF-8
(with the byte offset), NUL bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


@dataclass(frozen=True)
class Documents:
    """N documents: their texts, labels (or None) and names (file names or row numbers)."""

    texts: list[str]
    labels: list[str] | None
    names: list[str]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.names)} names")
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> Documents:
        """The documents at ``index``, in that order."""
        index = [int(i) for i in index]
        labels = None if self.labels is None else [self.labels[i] for i in index]
        return Documents([self.texts[i] for i in index], labels, [self.names[i] for i in index])


def decode_text(raw: bytes, where: str) -> str:
    """UTF-8 text of ``raw`` (a BOM is dropped, CRLF becomes LF); DataError naming ``where``
    for NUL bytes, invalid UTF-8 (with the byte offset) or text that is empty."""
    if b"\0" in raw:
        raise DataError(f"{where}: holds NUL bytes (binary data), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{where}: not UTF-8 text (invalid byte {raw[error.start]:#04x} at offset "
            f"{error.start}); convert it to UTF-8 first"
        ) from None
    if not text.strip():
        raise DataError(f"{where}: the document is empty")
    return text.replace("\r\n", "\n")


def read_folder(path: str | os.PathLike) -> Documents:
    """``LABEL/*.txt`` (labelled, labels sorted by name) or ``*.txt`` (unlabelled) files."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: no such folder")
    files = sorted(path.glob("*.txt"))
    labelled = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    if files and labelled:
        raise DataError(
            f"{path}: holds both .txt files and label folders ({labelled[0].name}/); use one "
            f"layout: LABEL/*.txt for labelled documents, *.txt for unlabelled ones"
        )
    if not files and not labelled:
        raise DataError(f"{path}: no .txt files, and no LABEL/ folders holding .txt files")
    if files:
        texts = [decode_text(f.read_bytes(), str(f)) for f in files]
        return Documents(texts, None, [f.name for f in files])
    texts, labels, names = [], [], []
    for folder in labelled:
        for f in sorted(folder.glob("*.txt")):
            texts.append(decode_text(f.read_bytes(), str(f)))
            labels.append(folder.name)
            names.append(f"{folder.name}/{f.name}")
    return Documents(texts, labels, names)


def _open_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: corrupt gzip file ({error})") from None
    return raw


def _table_rows(path: Path) -> tuple[list[str], list[dict]]:
    """(column names, rows as dicts) of a CSV/TSV/JSONL file (``.gz`` too)."""
    raw = _open_bytes(path)
    suffix = path.suffixes[-2] if path.suffix == ".gz" and len(path.suffixes) > 1 else path.suffix
    if suffix == ".jsonl":
        rows, columns = [], {}
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            where = f"{path}: line {number}"
            try:
                row = json.loads(decode_text(line, where))
            except json.JSONDecodeError as error:
                raise DataError(f"{where}: not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object per line")
            rows.append(row)
            columns.update(dict.fromkeys(row))
        return list(columns), rows
    if b"\0" in raw:
        raise DataError(f"{path}: holds NUL bytes (binary data), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: not UTF-8 text (invalid byte {raw[error.start]:#04x} at "
            f"offset {error.start}); convert the file to UTF-8 first"
        ) from None
    reader = csv.DictReader(
        io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ","
    )
    try:
        rows = list(reader)
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: {error}") from None
    return list(reader.fieldnames or []), rows


def read_table(
    path: str | os.PathLike, text_column: str = "text", label_column: str | None = "label"
) -> Documents:
    """Documents from a CSV/TSV/JSONL file; ``label_column`` None (or absent from the file
    when it is not required) gives unlabelled documents. Names are ``row N`` (1-based)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    columns, rows = _table_rows(path)
    if text_column not in columns:
        raise DataError(f"{path}: no text column {text_column!r} (columns: {columns})")
    if not rows:
        raise DataError(f"{path}: no rows")
    use_labels = label_column is not None and label_column in columns
    texts, labels = [], []
    for number, row in enumerate(rows, 1):
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: row {number}: the {text_column!r} text is empty")
        texts.append(text)
        if use_labels:
            label = row.get(label_column)
            if label is None or str(label).strip() == "":
                raise DataError(f"{path}: row {number}: the {label_column!r} label is empty")
            labels.append(str(label).strip())
    names = [f"row {i}" for i in range(1, len(rows) + 1)]
    return Documents(texts, labels if use_labels else None, names)


def read_documents(
    path: str | os.PathLike,
    text_column: str = "text",
    label_column: str | None = "label",
    need_labels: bool = False,
) -> Documents:
    """Documents from a folder, a ``.txt`` file or a table (see the module docstring).

    With ``need_labels`` a source without labels is refused, naming the file and what it lacks.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        docs = read_folder(path)
    elif path.suffix == ".txt":
        docs = Documents([decode_text(path.read_bytes(), str(path))], None, [path.name])
    elif any(path.name.endswith(s) or path.name.endswith(s + ".gz") for s in TABLE_SUFFIXES):
        docs = read_table(path, text_column, label_column)
    else:
        raise DataError(
            f"{path}: unknown document file (expected a folder, .txt, .csv, .tsv or .jsonl, "
            f"optionally .gz)"
        )
    if need_labels and docs.labels is None:
        what = f"no {label_column!r} column" if not path.is_dir() else "no LABEL/ folders"
        raise DataError(f"{path}: the documents have no labels ({what})")
    return docs
