"""Word vectors: text files (word2vec, GloVe, gzipped) and matrices inside wheels or folders
all give the same vectors; malformed sources are refused naming the file and what is wrong."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest

from rnnkit.data import DataError
from rnnkit.data.vectors import read_vectors

WORDS = ["the", "paris", "@home", "naïve", "the"]  # a repeated word: the first one counts


@pytest.fixture
def matrix() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(len(WORDS), 4)).astype(np.float32)


def text_lines(matrix: np.ndarray) -> list[str]:
    return [w + " " + " ".join(repr(float(x)) for x in row) for w, row in zip(WORDS, matrix)]


def npy_bytes(matrix: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, matrix)
    return out.getvalue()


def expected(matrix: np.ndarray, wanted=None) -> dict[str, list[float]]:
    first = {}
    for w, row in zip(WORDS, matrix):
        if (wanted is None or w in wanted) and w not in first:
            first[w] = row.tolist()
    return first


def as_lists(found: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {w: v.tolist() for w, v in found.items()}


def test_text_wheel_and_folder_sources_give_the_same_vectors(tmp_path, matrix):
    glove = tmp_path / "glove.txt"
    glove.write_text("\n".join(text_lines(matrix)) + "\n", encoding="utf-8")
    word2vec = tmp_path / "w2v.vec.gz"
    word2vec.write_bytes(gzip.compress(("5 4\n" + glove.read_text()).encode()))
    wheel = tmp_path / "vectors-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("vectors/data/emb.npy", npy_bytes(matrix))
        archive.writestr("vectors/data/words.txt", "\n".join(WORDS) + "\n")
        archive.writestr("vectors-1.0.dist-info/top_level.txt", "vectors\n")  # not the index
    for source in (glove, word2vec, wheel):
        size, found = read_vectors(source)
        assert size == 4 and list(found) == ["the", "paris", "@home", "naïve"]
        assert as_lists(found) == expected(matrix)
        assert as_lists(read_vectors(source, ["paris", "naïve", "rome"])[1]) == expected(
            matrix, {"paris", "naïve"}
        )


def test_a_parquet_word_index_in_a_folder(tmp_path, matrix):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "glove_emb.npy").write_bytes(npy_bytes(matrix))
    pq.write_table(pa.table({"index": WORDS}), folder / "glove_index.parquet")
    size, found = read_vectors(folder)
    assert size == 4 and as_lists(found) == expected(matrix)


def test_malformed_sources_are_refused(tmp_path, matrix):
    wheel = tmp_path / "a.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/words.txt", "a\nb\n")
    with pytest.raises(DataError, match=r"a.whl: expected one .npy matrix and one word index"):
        read_vectors(wheel)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/emb.npy", npy_bytes(matrix))
        archive.writestr("pkg/words.txt", "a\nb\n")
    with pytest.raises(DataError, match=r"emb.npy has shape \(5, 4\), expected \(2, D\)"):
        read_vectors(wheel)
    (tmp_path / "b.whl").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"b.whl: not a wheel or zip file"):
        read_vectors(tmp_path / "b.whl")
    with pytest.raises(DataError, match=r"c.vec: no such vector file"):
        read_vectors(tmp_path / "c.vec")
    bad = tmp_path / "bad.vec"
    bad.write_text("a 0.1 0.2\nb 0.3\n")
    with pytest.raises(DataError, match=rf"{bad}: line 2: 1 numbers, expected 2"):
        read_vectors(bad)
