"""rnnkit.data.timeseries and rnnkit.data.ett: validation errors, frequency, splits, scalers."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.data import ett
from rnnkit.data import timeseries as ts


def write_csv(path, rows, header="time,a,b"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def hourly_rows(n, start="2020-01-01 00:00"):
    times = pd.date_range(start, periods=n, freq="h")
    return [f"{t:%Y-%m-%d %H:%M},{i},{2 * i}" for i, t in enumerate(times)]


# ---------------------------------------------------------------------------- reading


def test_read_clean_csv(tmp_path):
    series = ts.read_csv(write_csv(tmp_path / "x.csv", hourly_rows(10)), "time")
    assert series.freq == "h" and len(series) == 10 and series.columns == ["a", "b"]
    assert series.values().shape == (10, 2) and series.repairs == []
    np.testing.assert_array_equal(series.values(["b"])[:, 0], 2 * np.arange(10))


def test_read_gzipped_csv(tmp_path):
    plain = write_csv(tmp_path / "x.csv", hourly_rows(10))
    with open(plain, "rb") as f, gzip.open(tmp_path / "y.csv.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    assert len(ts.read_csv(tmp_path / "y.csv.gz", "time")) == 10


def test_missing_column_is_named(tmp_path):
    path = write_csv(tmp_path / "x.csv", hourly_rows(5))
    with pytest.raises(ValueError, match=r"x\.csv: no column 'c'"):
        ts.read_csv(path, "time", ["a", "c"])
    with pytest.raises(ValueError, match=r"no column 'date'"):
        ts.read_csv(path, "date")


def test_unparsable_timestamp_names_column_and_line(tmp_path):
    rows = hourly_rows(6)
    rows[3] = "not a date,3,6"
    with pytest.raises(ValueError, match=r"column 'time' has unparsable .* line 5 .*'not a date'"):
        ts.read_csv(write_csv(tmp_path / "x.csv", rows), "time")


def test_duplicated_timestamp_names_line(tmp_path):
    rows = hourly_rows(6)
    rows[4] = rows[3]
    with pytest.raises(ValueError, match=r"duplicated timestamp\(s\) at line 6"):
        ts.read_csv(write_csv(tmp_path / "x.csv", rows), "time")


def test_unsorted_timestamps_refused(tmp_path):
    rows = hourly_rows(6)
    rows[2], rows[3] = rows[3], rows[2]
    with pytest.raises(ValueError, match=r"goes back in time at line 5"):
        ts.read_csv(write_csv(tmp_path / "x.csv", rows), "time")


def test_nan_names_column_and_line_or_is_filled(tmp_path):
    rows = hourly_rows(8)
    rows[5] = rows[5].rsplit(",", 1)[0] + ","  # empty b at line 7
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(ValueError, match=r"column 'b' has 1 NaN\(s\) at line 7"):
        ts.read_csv(path, "time")
    filled = ts.read_csv(path, "time", fill="interpolate")
    assert filled.values(["b"])[5, 0] == pytest.approx(10.0)
    assert "line 7" in filled.repairs[0]
    assert ts.read_csv(path, "time", fill="ffill").values(["b"])[5, 0] == 8.0


def test_non_numeric_value_names_line(tmp_path):
    rows = hourly_rows(5)
    rows[1] = rows[1].rsplit(",", 1)[0] + ",oops"
    with pytest.raises(ValueError, match=r"column 'b' is not numeric at line 3"):
        ts.read_csv(write_csv(tmp_path / "x.csv", rows), "time")


def test_gaps_reported_with_location_then_filled(tmp_path):
    rows = hourly_rows(12)
    del rows[4:7]  # 3 missing hours after line 5 (04:00 ... 06:00)
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(ValueError, match=r"3 step\(s\) missing after line 5 \(2020-01-01 03:00"):
        ts.read_csv(path, "time")
    series = ts.read_csv(path, "time", fill="interpolate")
    assert len(series) == 12 and series.freq == "h"
    np.testing.assert_allclose(series.values(["a"])[:, 0], np.arange(12.0))


def test_frequency_inference():
    assert ts.infer_freq(pd.date_range("2020", periods=20, freq="15min")) == "15min"
    assert ts.infer_freq(pd.date_range("1949-01", periods=30, freq="MS")) == "MS"
    gappy = pd.date_range("2020", periods=50, freq="D").delete([10, 11, 30])
    assert ts.infer_freq(gappy) == "D"
    assert ts.season_length("h") == 24 and ts.season_length("15min") == 96
    assert ts.season_length("MS") == 12 and ts.season_length("D") == 7


def test_calendar_features_in_range():
    index = pd.date_range("2021-03-01", periods=100, freq="h")
    feats = ts.calendar_features(index, "h")
    assert list(feats.columns) == ["hour", "weekday", "day_of_month", "day_of_year"]
    assert feats.to_numpy().min() >= -0.5 and feats.to_numpy().max() <= 0.5
    assert list(ts.calendar_features(pd.date_range("2020", periods=5, freq="MS"), "MS")) == [
        "month"
    ]


# ---------------------------------------------------------------------------- splits, scalers


def test_chronological_split_and_context():
    split = ts.chronological_split(100, val=0.1, test=20)
    assert split == ts.Split((0, 70), (70, 80), (80, 100))
    assert split.with_context("test", 24) == (56, 100)
    assert split.with_context("train", 24) == (0, 70)
    with pytest.raises(ValueError, match="cannot hold"):
        ts.chronological_split(10, val=5, test=5)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_uses_train_rows_only(kind):
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(200, 3))
    test = rng.normal(50.0, 9.0, size=(100, 3))  # a very different test period
    scaler = ts.make_scaler(kind).fit(train)
    z_train = scaler.transform(train)
    if kind == "standard":
        np.testing.assert_allclose(z_train.mean(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(z_train.std(0), 1.0, atol=1e-12)
    else:
        np.testing.assert_allclose(z_train.min(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(z_train.max(0), 1.0, atol=1e-12)
    assert np.all(scaler.transform(test).mean(0) > 2)  # test statistics did not leak in
    back = ts.scaler_from_state(scaler.state_dict())
    np.testing.assert_allclose(back.inverse_transform(back.transform(test)), test)
    t = torch.as_tensor(test[:, 1:2], dtype=torch.float32)
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(t, [1]), [1]).numpy(), t.numpy(), rtol=1e-6
    )


def test_constant_channel_does_not_divide_by_zero():
    scaler = ts.StandardScaler().fit(np.ones((10, 1)))
    assert np.isfinite(scaler.transform(np.ones((3, 1)))).all()


# ---------------------------------------------------------------------------- windows


def test_window_starts_keep_the_last_window():
    np.testing.assert_array_equal(ts.window_starts(20, 5, 3, stride=4), [0, 4, 8, 12])
    np.testing.assert_array_equal(ts.window_starts(21, 5, 3, stride=4), [0, 4, 8, 12, 13])


def test_short_series_refused_with_lengths():
    with pytest.raises(ValueError, match=r"has 10 rows, shorter than lookback \+ horizon = 8 \+ 4"):
        ts.window_starts(10, 8, 4)


def test_window_dataset_items_align():
    x = np.arange(30, dtype=float).reshape(-1, 1)
    known = np.arange(30, dtype=float).reshape(-1, 1) + 100
    ds = ts.WindowDataset(np.hstack([x, known]), x, lookback=5, horizon=3, stride=2, known=known)
    item = ds[2]
    assert item["start"].item() == 4
    assert item["past"].shape == (5, 2) and item["future"].shape == (3, 1)
    np.testing.assert_array_equal(item["past"][:, 0], [4, 5, 6, 7, 8])
    np.testing.assert_array_equal(item["future"][:, 0], [9, 10, 11])
    np.testing.assert_array_equal(item["known"][:, 0], [109, 110, 111])


def test_window_dataset_batch_index_equals_items():
    rng = np.random.default_rng(0)
    x, known = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    ds = ts.WindowDataset(x, x[:, :1], 8, 4, stride=3, known=known, offset=100)
    batch = ds[torch.tensor([0, 2, len(ds) - 1])]
    assert batch["past"].shape == (3, 8, 3) and batch["known"].shape == (3, 4, 2)
    for row, i in enumerate([0, 2, len(ds) - 1]):
        item = ds[i]
        for key in ("past", "future", "known"):
            torch.testing.assert_close(batch[key][row], item[key])
        assert batch["start"][row] == item["start"] == 100 + ds.starts[i]


def test_sliding_windows_view():
    x = np.arange(12.0).reshape(6, 2)
    w = ts.sliding_windows(x, 3, stride=2)
    assert w.shape == (3, 3, 2)  # starts 0, 2 and the last, 3
    np.testing.assert_array_equal(w[1], x[2:5])
    np.testing.assert_array_equal(w[-1], x[3:6])


# ---------------------------------------------------------------------------- ETT


def test_ett_informer_split_and_real_file(shared_datasets):
    series = ett.load("ETTh1", shared_datasets / "ett", download_missing=False)
    assert len(series) == 17420 and series.freq == "h"
    assert series.columns == list(ett.COLUMNS)
    split = ett.informer_split("ETTh1")
    assert split == ts.Split((0, 8640), (8640, 11520), (11520, 14400))
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
