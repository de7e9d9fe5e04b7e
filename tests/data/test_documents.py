"""Document readers (folders, .txt, CSV/TSV/JSONL) and the IMDB loader (CSV and archive)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from rnnkit.data import DataError
from rnnkit.data.datasets.imdb import load_imdb
from rnnkit.data.documents import read_documents, read_folder, read_table


def test_folder_of_label_subfolders(tmp_path):
    for label, texts in {"pos": ["Great film.", "Loved it"], "neg": ["Awful."]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    docs = read_folder(tmp_path)
    assert docs.labels == ["neg", "pos", "pos"]
    assert docs.texts == ["Awful.", "Great film.", "Loved it"]
    assert docs.names == ["neg/0.txt", "pos/0.txt", "pos/1.txt"]


def test_folder_of_bare_files_is_unlabelled(tmp_path):
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "a.txt").write_bytes("\ufefffirst\r\nline".encode())
    docs = read_documents(tmp_path)
    assert docs.labels is None and docs.names == ["a.txt", "b.txt"]
    assert docs.texts == ["first\nline", "second"]  # BOM dropped, CRLF -> LF


def test_empty_and_non_utf8_files_are_named(tmp_path):
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("   \n")
    with pytest.raises(DataError, match=r"pos/a\.txt: the document is empty"):
        read_folder(tmp_path)
    (tmp_path / "pos" / "a.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(
        DataError, match=r"pos/a\.txt: not UTF-8 text \(invalid byte 0xe9 at offset 3"
    ):
        read_folder(tmp_path)


def test_tables_csv_tsv_jsonl_gz(tmp_path):
    (tmp_path / "d.csv").write_text('text,label\n"Good, really",pos\nBad,neg\n')
    (tmp_path / "d.tsv").write_text("review\ty\nGood\tpos\n")
    rows = [{"text": "Good", "label": "pos"}, {"text": "Bad", "label": 3}]
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress("\n".join(map(json.dumps, rows)).encode()))
    csv_docs = read_documents(tmp_path / "d.csv")
    assert csv_docs.texts == ["Good, really", "Bad"] and csv_docs.labels == ["pos", "neg"]
    tsv = read_table(tmp_path / "d.tsv", "review", "y")
    assert tsv.texts == ["Good"] and tsv.labels == ["pos"]
    jsonl = read_documents(tmp_path / "d.jsonl.gz")
    assert jsonl.labels == ["pos", "3"] and jsonl.names == ["row 1", "row 2"]
    unlabelled = read_table(tmp_path / "d.csv", "text", "missing")
    assert unlabelled.labels is None


def test_table_errors_name_the_file_and_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nfine,pos\n  ,neg\n")
    with pytest.raises(DataError, match=r"d\.csv: row 2: the 'text' text is empty"):
        read_documents(path)
    path.write_text("body,label\nfine,pos\n")
    with pytest.raises(DataError, match=r"d\.csv: no text column 'text' \(columns: \['body'"):
        read_documents(path)
    path.write_text("text,label\nfine,pos\nok,\n")
    with pytest.raises(DataError, match=r"row 2: the 'label' label is empty"):
        read_documents(path)
    path.write_bytes(b"text,label\nfine,pos\ncaf\xe9,neg\n")
    with pytest.raises(DataError, match=r"d\.csv: line 3: not UTF-8"):
        read_documents(path)
    path.write_text("text\nfine\n")
    with pytest.raises(DataError, match=r"d\.csv: the documents have no labels"):
        read_documents(path, need_labels=True)
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"d\.jsonl: line 2: expected a JSON object"):
        read_documents(tmp_path / "d.jsonl")


def _archive(path, reviews):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_imdb_from_the_published_archive_layout(tmp_path):
    folder = tmp_path / "imdb"
    folder.mkdir()
    _archive(
        folder / "aclImdb_v1.tar.gz",
        {
            "train/pos/10_9.txt": "Wonderful.<br />Yes.",
            "train/pos/2_7.txt": "Good.",
            "train/neg/1_1.txt": "Bad.",
            "test/neg/0_2.txt": "Dull.",
            "test/pos/0_8.txt": "Fine.",
            "train/unsup/0_0.txt": "ignored",
            "README": "ignored",
        },
    )
    splits = load_imdb(tmp_path, download=False)
    train, test = splits["train"], splits["test"]
    assert train.names == ["pos/2", "pos/10", "neg/1"]  # pos then neg, by id
    assert train.labels == ["positive", "positive", "negative"]
    assert train.texts[1] == "Wonderful.<br />Yes."  # verbatim
    assert test.labels == ["positive", "negative"]


def test_imdb_missing_offline_names_the_file_and_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"aclImdb_v1\.tar\.gz is missing.*sha256 c40f74a1"):
        load_imdb(tmp_path, download=False)


def test_imdb_shared_copy_has_the_official_split(shared_datasets):
    splits = load_imdb(shared_datasets)
    for split in ("train", "test"):
        docs = splits[split]
        assert len(docs) == 25000
        assert docs.labels.count("positive") == docs.labels.count("negative") == 12500
        assert len(set(docs.names)) == 25000  # one review per (label, id)
