"""NAB scoring on constructed cases whose scores follow from the definition (Lavin & Ahmad 2015)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.data.datasets.nab import load_nab, probation_length
from rnnkit.tasks.anomaly.nab import (
    PROFILES,
    events_from_flags,
    scaled_sigmoid,
    score_file,
    summarise,
)

T, PROBATION = 1000, 100
WINDOWS = [(200, 299), (600, 699)]  # two windows of width 100


def sigma(x: float) -> float:
    """NAB's scaled sigmoid written out independently: 2·logistic(−5x) − 1."""
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def nab(detections, windows=WINDOWS, length=T, probation=PROBATION):
    return summarise([score_file(detections, windows, length, probation)])


def test_probation_length_is_nabs():
    assert probation_length(4032) == 604  # floor(0.15 * 4032)
    assert probation_length(1243) == 186
    assert probation_length(22695) == 750  # capped at 0.15 * 5000


def test_null_detector_scores_zero_and_perfect_one_hundred():
    assert all(v == 0.0 for v in nab([]).nab.values())
    perfect = nab([s for s, _ in WINDOWS])
    for name in PROFILES:
        assert perfect.nab[name] == pytest.approx(100.0)
        assert perfect.raw[name] == pytest.approx(PROFILES[name].tp * len(WINDOWS))
    assert (perfect.tp, perfect.fp, perfect.fn, perfect.f1) == (2, 0, 0, 1.0)


def test_a_missed_window_costs_a_fn():
    one = nab([200])  # first window caught at its start, second missed
    for name, p in PROFILES.items():
        assert one.raw[name] == pytest.approx(p.tp - p.fn)
    assert one.raw["reward_low_FN_rate"] == pytest.approx(1.0 - 2.0)
    assert one.nab["standard"] == pytest.approx(100 * (0.0 - (-2.0)) / (2.0 - (-2.0)))


def test_false_positive_before_any_window_costs_a_fp():
    with_fp = nab([150, 200, 600])
    for name, p in PROFILES.items():
        assert with_fp.raw[name] == pytest.approx(2 * p.tp - p.fp)
    assert with_fp.raw["standard"] == pytest.approx(2 - 0.11)
    assert with_fp.raw["reward_low_FP_rate"] == pytest.approx(2 - 0.22)
    assert (with_fp.tp, with_fp.fp, with_fp.fn) == (2, 1, 0)


def test_false_positive_after_a_window_is_weighted_by_its_distance():
    # 99 records past the end of a window of width 100: y = 99 / 99 = 1
    far = score_file([200, 398, 600], WINDOWS, T, PROBATION)
    assert far.raw["standard"] == pytest.approx(2 + 0.11 * sigma(1.0))
    # just past the end costs almost nothing; more than 3 widths past costs the full A_FP
    near = score_file([200, 300, 600], WINDOWS, T, PROBATION)
    assert near.raw["standard"] == pytest.approx(2 + 0.11 * sigma(1 / 99))
    beyond = score_file([200, 600, 999], WINDOWS, T, PROBATION)
    assert beyond.raw["standard"] == pytest.approx(2 - 0.11)


def test_only_the_first_detection_in_a_window_counts_weighted_by_position():
    at_end = score_file([299], WINDOWS[:1], T, PROBATION).raw["standard"]
    assert at_end == pytest.approx(sigma(-1 / 100) / sigma(-1.0))
    middle = score_file([250], WINDOWS[:1], T, PROBATION).raw["standard"]
    assert middle == pytest.approx(sigma(-50 / 100) / sigma(-1.0))
    assert 0 < at_end < middle < 1
    again = score_file([250, 260, 299], WINDOWS[:1], T, PROBATION)
    assert again.raw["standard"] == pytest.approx(middle) and again.tp == 1 and again.fp == 0


def test_detections_in_the_probationary_period_are_ignored():
    assert nab([5, 50, 99]).raw == nab([]).raw
    assert nab([5, 50, 99]).fp == 0


def test_scaled_sigmoid_is_odd_and_saturates():
    for x in (0.1, 0.5, 1.0, 2.0):
        assert scaled_sigmoid(x) == pytest.approx(-scaled_sigmoid(-x))
    assert scaled_sigmoid(3.5) == -1.0


def test_event_counts_pool_over_files():
    a = score_file([200, 450], WINDOWS, T, PROBATION)  # 1 TP, 1 FP, 1 FN
    b = score_file([150, 620, 630], WINDOWS, T, PROBATION)  # 1 TP, 1 FP, 1 FN
    c = score_file([500], [], T, PROBATION)  # no windows: only a FP
    pooled = summarise([a, b, c])
    assert (pooled.tp, pooled.fp, pooled.fn, pooled.windows) == (2, 3, 2, 4)
    assert pooled.precision == pytest.approx(2 / 5) and pooled.recall == pytest.approx(2 / 4)
    assert pooled.f1 == pytest.approx(2 * 2 / (2 * 2 + 3 + 2))
    assert math.isnan(summarise([c]).nab["standard"])  # perfect = null without windows


def test_events_merge_runs_closer_than_min_gap():
    flags = np.zeros(60, dtype=bool)
    flags[[3, 4, 5, 9, 30, 31, 50]] = True
    assert events_from_flags(flags, 1).tolist() == [3, 9, 30, 50]
    assert events_from_flags(flags, 4).tolist() == [3, 30, 50]
    assert events_from_flags(flags, 20).tolist() == [3, 30]
    assert events_from_flags(flags, 25).tolist() == [3]
    assert events_from_flags(np.zeros(5, bool), 3).tolist() == []


@pytest.mark.parametrize(
    "windows,match",
    [
        ([(5, 2)], "0 <= start <= end"),
        ([(0, 10), (5, 20)], "sorted and disjoint"),
        ([(0, T)], "< length"),
    ],
)
def test_bad_windows_are_refused(windows, match):
    with pytest.raises(ValueError, match=match):
        score_file([], windows, T, PROBATION)


def test_perfect_and_null_detectors_on_the_real_nab_labels(shared_datasets):
    files = load_nab(shared_datasets)
    assert len(files) == 35 and sum(len(f.windows) for f in files) == 55
    assert all(f.probation <= s for f in files for s, _ in f.windows)
    perfect = summarise(
        score_file([s for s, _ in f.windows], f.windows, len(f.series), f.probation) for f in files
    )
    null = summarise(score_file([], f.windows, len(f.series), f.probation) for f in files)
    assert perfect.nab == pytest.approx(dict.fromkeys(PROFILES, 100.0))
    assert null.nab == pytest.approx(dict.fromkeys(PROFILES, 0.0))
