"""rnnkit.data.windows: window starts, views, centering and the window dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data.windows import WindowDataset, centered_windows, sliding_windows, window_starts


def test_window_starts_keep_the_last_window():
    np.testing.assert_array_equal(window_starts(20, 5, 3, stride=4), [0, 4, 8, 12])
    np.testing.assert_array_equal(window_starts(21, 5, 3, stride=4), [0, 4, 8, 12, 13])


def test_short_series_refused_with_lengths():
    with pytest.raises(ValueError, match=r"has 10 rows, shorter than lookback \+ horizon = 8 \+ 4"):
        window_starts(10, 8, 4)


def test_window_dataset_items_align():
    x = np.arange(30, dtype=float).reshape(-1, 1)
    known = np.arange(30, dtype=float).reshape(-1, 1) + 100
    ds = WindowDataset(np.hstack([x, known]), x, lookback=5, horizon=3, stride=2, known=known)
    item = ds[2]
    assert item["start"].item() == 4
    assert item["past"].shape == (5, 2) and item["future"].shape == (3, 1)
    np.testing.assert_array_equal(item["past"][:, 0], [4, 5, 6, 7, 8])
    np.testing.assert_array_equal(item["future"][:, 0], [9, 10, 11])
    np.testing.assert_array_equal(item["known"][:, 0], [109, 110, 111])


def test_window_dataset_batch_index_equals_items():
    rng = np.random.default_rng(0)
    x, known = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    ds = WindowDataset(x, x[:, :1], 8, 4, stride=3, known=known, offset=100)
    batch = ds[torch.tensor([0, 2, len(ds) - 1])]
    assert batch["past"].shape == (3, 8, 3) and batch["known"].shape == (3, 4, 2)
    for row, i in enumerate([0, 2, len(ds) - 1]):
        item = ds[i]
        for key in ("past", "future", "known"):
            torch.testing.assert_close(batch[key][row], item[key])
        assert batch["start"][row] == item["start"] == 100 + ds.starts[i]


def test_sliding_windows_view():
    x = np.arange(12.0).reshape(6, 2)
    w = sliding_windows(x, 3, stride=2)
    assert w.shape == (3, 3, 2)  # starts 0, 2 and the last, 3
    np.testing.assert_array_equal(w[1], x[2:5])
    np.testing.assert_array_equal(w[-1], x[3:6])


@pytest.mark.parametrize("center", ["none", "mean", "last"])
def test_centered_windows(center):
    x = np.arange(20.0).reshape(10, 2)
    w = centered_windows(x, 4, center=center, lookback=3)
    assert w.shape == (7, 4, 2) and w.dtype == np.float32
    raw = sliding_windows(x, 4)
    expected = {"none": raw, "mean": raw - raw.mean(1, keepdims=True), "last": raw - raw[:, 2:3]}
    np.testing.assert_allclose(w, expected[center])
