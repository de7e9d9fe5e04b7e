"""rnnkit.data.splits: chronological and random splits."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import Sequences, Split, chronological_split, random_split


def test_chronological_split_and_context():
    split = chronological_split(100, val=0.1, test=20)
    assert split == Split((0, 70), (70, 80), (80, 100))
    assert split.with_context("test", 24) == (56, 100)
    assert split.with_context("train", 24) == (0, 70)
    with pytest.raises(ValueError, match="cannot hold"):
        chronological_split(10, val=5, test=5)


def test_fractions_put_borders_at_cumulative_shares():
    # first 90%, next 5%, last 5%, as a language model's text is split
    split = chronological_split(1_115_394, val=0.05, test=0.05)
    assert split.train == (0, 1_003_855) and split.val == (1_003_855, 1_059_624)
    assert chronological_split(100, val=0.1, test=0.0) == Split((0, 90), (90, 100), (100, 100))


def test_random_split_is_stratified_disjoint_and_seeded():
    y = np.repeat(np.arange(4), 25)
    data = Sequences(np.arange(100, dtype=np.float32).reshape(100, 1, 1), np.ones(100, int), y)
    rest, part = random_split(data, 0.2, seed=3)
    assert len(part) == 20 and len(rest) == 80
    assert set(part.x.ravel()).isdisjoint(rest.x.ravel())
    assert np.bincount(part.y).tolist() == [5, 5, 5, 5]
    again, _ = random_split(data, 0.2, seed=3)
    np.testing.assert_array_equal(again.x, rest.x)
    with pytest.raises(ValueError, match="leaves one side empty"):
        random_split(data, 0.001, seed=0)
