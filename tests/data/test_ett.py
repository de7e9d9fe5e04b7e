"""rnnkit.data.datasets.ett: the ETT loader, its download with checksums and the Informer split."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from rnnkit.data import Split
from rnnkit.data.datasets import ett
from support.series import hourly_rows, write_csv


def test_ett_informer_split_and_real_file(shared_datasets):
    series = ett.load("ETTh1", shared_datasets / "ett", download_missing=False)
    assert len(series) == 17420 and series.freq == "h"
    assert series.columns == list(ett.COLUMNS)
    split = ett.informer_split("ETTh1")
    assert split == Split((0, 8640), (8640, 11520), (11520, 14400))
    assert split.with_context("test", 96) == (11424, 14400)
    assert ett.informer_split("ETTm2").test == (46080, 57600)


def test_ett_data_dir_from_env(tmp_path, monkeypatch, shared_datasets):
    folder = tmp_path / "ETT-small"
    folder.mkdir()
    shutil.copy(shared_datasets / "ett" / "ETT-small" / "ETTh2.csv", folder / "ETTh2.csv")
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    assert ett.find_file("ETTh2") == folder / "ETTh2.csv"


def test_ett_offline_message_and_no_partial_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ETT-small/ETTh1\.csv is missing\. Put the file"):
        ett.download("ETTh1", tmp_path, url=(tmp_path / "nowhere.csv").as_uri())
    assert list((tmp_path / "ETT-small").iterdir()) == []
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        ett.load("ETTh1", tmp_path, download_missing=False)


def test_ett_download_checks_sha256(tmp_path, monkeypatch):
    source = write_csv(tmp_path / "src.csv", hourly_rows(3))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="sha256"):
        ett.download("ETTh1", cache, url=source.as_uri())
    assert list((cache / "ETT-small").iterdir()) == []  # nothing half-written or wrong
    good = hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setitem(ett.CHECKSUMS, "ETTh1", (good, source.stat().st_size))
    assert ett.download("ETTh1", cache, url=source.as_uri()).read_bytes() == source.read_bytes()
