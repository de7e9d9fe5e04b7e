"""rnnkit.data.timeseries: the one time-series reader, its validation policy and frequencies."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from rnnkit.data import DataError, frequency
from rnnkit.data import timeseries as ts
from support.series import hourly_rows, write_csv


def read(path, time_column, columns=None, **kwargs):
    """A regular series, as forecasting reads it."""
    return ts.read_series(path, time_column, columns, regular=True, **kwargs)


def test_read_clean_csv(tmp_path):
    series = read(write_csv(tmp_path / "x.csv", hourly_rows(10)), "time")
    assert series.freq == "h" and len(series) == 10 and series.columns == ["a", "b"]
    assert series.values().shape == (10, 2) and series.repairs == []
    np.testing.assert_array_equal(series.values(["b"])[:, 0], 2 * np.arange(10))


def test_read_gzipped_csv(tmp_path):
    plain = write_csv(tmp_path / "x.csv", hourly_rows(10))
    with open(plain, "rb") as f, gzip.open(tmp_path / "y.csv.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    assert len(read(tmp_path / "y.csv.gz", "time")) == 10


def test_missing_column_is_named(tmp_path):
    path = write_csv(tmp_path / "x.csv", hourly_rows(5))
    with pytest.raises(DataError, match=r"x\.csv: line 1: no column 'c'"):
        read(path, "time", ["a", "c"])
    with pytest.raises(ValueError, match=r"no column 'date'"):
        read(path, "date")


def test_unparsable_timestamp_names_column_and_line(tmp_path):
    rows = hourly_rows(6)
    rows[3] = "not a date,3,6"
    with pytest.raises(
        DataError, match=r"x\.csv: line 5, column 'time': not a timestamp: 'not a date'"
    ):
        read(write_csv(tmp_path / "x.csv", rows), "time")


def test_duplicated_timestamp_names_line(tmp_path):
    rows = hourly_rows(6)
    rows[4] = rows[3]
    with pytest.raises(
        DataError, match=r"line 6, column 'time': duplicated timestamp .*first at line 5"
    ):
        read(write_csv(tmp_path / "x.csv", rows), "time")


def test_unsorted_timestamps_refused(tmp_path):
    rows = hourly_rows(6)
    rows[2], rows[3] = rows[3], rows[2]
    with pytest.raises(DataError, match=r"line 5, column 'time': goes back in time"):
        read(write_csv(tmp_path / "x.csv", rows), "time")


def test_nan_names_column_and_line_or_is_filled(tmp_path):
    rows = hourly_rows(8)
    rows[5] = rows[5].rsplit(",", 1)[0] + ","  # empty b at line 7
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(DataError, match=r"x\.csv: line 7, column 'b': missing value"):
        read(path, "time")
    filled = read(path, "time", fill="interpolate")
    assert filled.values(["b"])[5, 0] == pytest.approx(10.0)
    assert "line 7" in filled.repairs[0]
    assert read(path, "time", fill="ffill").values(["b"])[5, 0] == 8.0


def test_non_numeric_value_names_line(tmp_path):
    rows = hourly_rows(5)
    rows[1] = rows[1].rsplit(",", 1)[0] + ",oops"
    with pytest.raises(DataError, match=r"x\.csv: line 3, column 'b': not a number: 'oops'"):
        read(write_csv(tmp_path / "x.csv", rows), "time")


def test_gaps_reported_with_location_then_filled(tmp_path):
    rows = hourly_rows(12)
    del rows[4:7]  # 3 missing hours after line 5 (04:00 ... 06:00)
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(DataError, match=r"3 step\(s\) missing after line 5 \(2020-01-01 03:00"):
        read(path, "time")
    series = read(path, "time", fill="interpolate")
    assert len(series) == 12 and series.freq == "h"
    np.testing.assert_allclose(series.values(["a"])[:, 0], np.arange(12.0))


def test_frequency_inference():
    assert frequency.infer_freq(pd.date_range("2020", periods=20, freq="15min")) == "15min"
    assert frequency.infer_freq(pd.date_range("1949-01", periods=30, freq="MS")) == "MS"
    gappy = pd.date_range("2020", periods=50, freq="D").delete([10, 11, 30])
    assert frequency.infer_freq(gappy) == "D"
    assert frequency.season_length("h") == 24 and frequency.season_length("15min") == 96
    assert frequency.season_length("MS") == 12 and frequency.season_length("D") == 7


def test_calendar_features_in_range():
    index = pd.date_range("2021-03-01", periods=100, freq="h")
    feats = frequency.calendar_features(index, "h")
    assert list(feats.columns) == ["hour", "weekday", "day_of_month", "day_of_year"]
    assert feats.to_numpy().min() >= -0.5 and feats.to_numpy().max() <= 0.5
    assert list(frequency.calendar_features(pd.date_range("2020", periods=5, freq="MS"), "MS")) == [
        "month"
    ]


# ---------------------------------------------------------------------------- policies
def test_record_series_keeps_order_and_duplicates_when_asked(tmp_path):
    rows = hourly_rows(6)
    rows[2], rows[3] = rows[3], rows[2]
    rows.append(rows[-1])
    path = write_csv(tmp_path / "x.csv", rows)
    kept = ts.read_series(path, "time", order="keep", duplicates="keep")
    assert kept.freq is None and len(kept) == 7
    np.testing.assert_array_equal(kept.values(["a"])[:4, 0], [0, 1, 3, 2])
    ordered = ts.read_series(path, "time", order="sort", duplicates="keep")
    assert ordered.index.is_monotonic_increasing
    message = r"line 8, column 'time': duplicated timestamp .*first at line 7"
    with pytest.raises(DataError, match=message):
        ts.read_series(path, "time", order="keep")


def test_nan_policy_is_the_same_for_records(tmp_path):
    rows = hourly_rows(8)
    rows[5] = rows[5].rsplit(",", 1)[0] + ","
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(DataError, match=r"line 7, column 'b': missing value"):
        ts.read_series(path, "time")
    filled = ts.read_series(path, "time", fill="interpolate")
    assert filled.values(["b"])[5, 0] == pytest.approx(10.0) and "line 7" in filled.repairs[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"line 1: the file is empty"),
        (b"time,a\n2020-01-01,1\n\x00\x01\x02\n", r"line 3: not UTF-8 text"),
        (b"time,a\n2020-01-01,1\n2020-01-02,\xe8t\xe9\n", r"line 3: not UTF-8 text"),
        (b"time,a\n2020-01-01,1\n2020-01-02,2,3\n", r"line 3"),
        (b"time,a\n2020-01-01,1\n\n2020-01-03,3\n", r"line 3: the line holds no value"),
    ],
    ids=["empty", "binary", "latin-1", "ragged", "blank-line"],
)
def test_unreadable_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"bad\.csv: " + message):
        ts.read_series(path, "time")


def test_trailing_blank_lines_are_fine(tmp_path):
    path = write_csv(tmp_path / "x.csv", hourly_rows(5))
    path.write_text(path.read_text() + "\n\n")
    assert len(ts.read_series(path, "time")) == 5
