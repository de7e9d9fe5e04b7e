"""Scale-free detection: the robust threshold (and how it keeps up with lasting change), the
ensemble's standardised scores, lengths given as shares of the training records, and Orion's
overlap counts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.config import resolve
from rnnkit.data.timeseries import read_series
from rnnkit.tasks.anomaly import AnomalyConfig, DetectRule, fit_detector, load_detector
from rnnkit.tasks.anomaly.nab import Counts, event_intervals, overlap_counts
from rnnkit.tasks.anomaly.scoring import ensemble_scores, log_robust_stats
from rnnkit.tasks.anomaly.thresholds import RobustThreshold, threshold_from_dict

rng = np.random.default_rng(0)
TRAIN = rng.gamma(2.0, 0.5, 600)
TEST = np.concatenate([rng.gamma(2.0, 0.5, 900), [40.0, 45.0], rng.gamma(2.0, 0.5, 500)])


def test_robust_threshold_flags_the_spike_and_ignores_the_scale():
    th = RobustThreshold(k=4.0, history=1000, step=50, span=1).fit(TRAIN)
    levels, flags = th.run(TEST)
    assert flags[900:902].all() and flags.sum() <= 5
    scaled = RobustThreshold(k=4.0, history=1000, step=50, span=1).fit(TRAIN * 1e4)
    levels_scaled, flags_scaled = scaled.run(TEST * 1e4)
    assert np.array_equal(flags, flags_scaled)
    assert np.allclose(levels_scaled, levels * 1e4)


def test_robust_threshold_level_is_median_plus_k_mad_of_the_log_history():
    th = RobustThreshold(k=3.0, history=200, step=1000, span=1).fit(TRAIN)
    levels, _ = th.run(TEST[:10])
    logs = np.log(TRAIN[-200:])
    median = np.median(logs)
    expected = np.exp(median + 3.0 * 1.4826 * np.median(np.abs(logs - median)))
    assert np.allclose(levels, expected)


def test_robust_threshold_is_causal_and_round_trips():
    th = RobustThreshold(k=3.5, history=300, step=25, span=5).fit(TRAIN)
    full = th.run(TEST)
    cut = th.run(TEST[:950])
    assert np.array_equal(full[1][:950], cut[1]) and np.allclose(full[0][:950], cut[0])
    again = threshold_from_dict(json.loads(json.dumps(th.to_dict())))
    assert np.array_equal(again.flags(TEST), full[1])


def test_bad_robust_settings_are_named():
    with pytest.raises(ValueError, match="need k > 0, history >= 2, step >= 1, span >= 1"):
        RobustThreshold(k=0.0)


def test_ensemble_score_is_the_exp_of_the_mean_standardised_log_error():
    a, b = rng.gamma(2.0, 1.0, 300), rng.gamma(2.0, 0.001, 300)
    stats = [log_robust_stats(a[:100]), log_robust_stats(b[:100])]
    got = ensemble_scores(np.stack([a, b], axis=1), stats)
    for (m, d), x in zip(stats, (a[:100], b[:100])):  # the statistics written out
        assert m == pytest.approx(np.median(np.log(x)))
        assert d == pytest.approx(1.4826 * np.median(np.abs(np.log(x) - np.median(np.log(x)))))
    z = [(np.log(x) - m) / d for (m, d), x in zip(stats, (a, b))]
    assert np.allclose(got, np.exp((z[0] + z[1]) / 2))
    # a detector whose errors are 1000 times larger weighs exactly as much
    scaled = ensemble_scores(
        np.stack([a, b * 1000], axis=1), [stats[0], log_robust_stats(b[:100] * 1000)]
    )
    assert np.allclose(scaled, got)


def test_lengths_are_shares_of_the_training_records():
    rule = DetectRule()
    assert rule.gap_for(240) == round(rule.event_gap * 240)
    assert rule.history_for(750) == round(rule.history_share * 750)
    fixed = DetectRule(min_gap=30, history=500)
    assert fixed.gap_for(240) == 30 and fixed.history_for(750) == 500
    with pytest.raises(ValueError, match="detect.history is 0"):
        DetectRule().make_threshold()


def test_overlap_counts_follow_orions_overlap_segment():
    windows = [(100, 199), (400, 449), (700, 799)]
    intervals = np.array([[90, 100], [150, 160], [300, 310], [450, 460], [650, 705]])
    # [90,100] and [150,160] hit the first window (one TP), [300,310] and [450,460] hit nothing
    # (two FPs: 450 lies past the second window's end), [650,705] hits the third
    assert overlap_counts(intervals, windows, 1000) == Counts(tp=2, fp=2, fn=1)
    # intervals are cut at the probationary period: [90, 100] becomes [95, 100]; [10, 20] vanishes
    assert overlap_counts(np.array([[10, 20], [90, 100]]), windows, 1000, 95) == Counts(1, 0, 2)
    assert Counts(2, 2, 1).f1 == pytest.approx(4 / 7)


def test_event_intervals_span_each_events_flags():
    flags = np.zeros(100, dtype=bool)
    flags[[5, 6, 9, 30, 31, 80]] = True
    assert event_intervals(flags, 5).tolist() == [[5, 9], [30, 31], [80, 80]]
    assert event_intervals(np.zeros(10, dtype=bool)).shape == (0, 2)


def write_series(path: Path, n: int, freq: str, spike: int) -> Path:
    t = np.arange(n)
    period = {"h": 24, "5min": 288}[freq]
    values = 10 + np.sin(2 * np.pi * t / period) + 0.1 * np.random.default_rng(1).normal(size=n)
    values[spike : spike + 3] += 6.0
    frame = pd.DataFrame({"timestamp": pd.date_range("2021-01-01", periods=n, freq=freq)})
    frame["value"] = values
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("n", "freq"), [(1200, "h"), (6000, "5min")])
def test_the_default_ensemble_finds_a_spike_in_short_and_long_series(tmp_path, n, freq):
    """The defaults (ensemble, robust threshold, gap and history as shares of the records learnt
    from) on an hourly 1,200-record series and a 6,000-record series at 5 minutes."""
    spike = int(0.8 * n)
    csv = write_series(tmp_path / "s.csv", n, freq, spike)
    flags = {"model.window": 16, "model.hidden_size": 8, "train.epochs": 20}
    flags.update({"train.threads": 1, "train.progress": False, "data.path": str(csv)})
    config = resolve(AnomalyConfig, flags=flags)
    detector = fit_detector(config, tmp_path / "run")
    series = read_series(csv)
    found = detector.detect(series)
    assert detector.method == "ensemble" and len(detector.normalisers) == 2
    assert found.flags[spike : spike + 20].any()
    assert np.isnan(found.scores[:16]).all()  # the forecaster needs L + 1 records
    # the calibration scores saved with the run are the loaded detector's own scores
    loaded = load_detector(tmp_path / "run")
    fit_rows = detector.train_rows - len(detector.calibration)
    again = loaded.raw_scores(series.values())[fit_rows : detector.train_rows]
    assert np.allclose(again, detector.calibration, rtol=1e-4, atol=1e-6)
    assert np.array_equal(loaded.detect(series).flags, found.flags)
    # point by point: the flags before the spike do not depend on the records after it
    cut = detector.detect(series.head(spike + 5))
    assert np.array_equal(found.flags[: spike + 5], cut.flags)


# ------------------------------------------------- keeping up with change: rejoin and persist
def lognormal(n: int, sd: float = 0.5, seed: int = 3) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, sd, n))


def shifted(n: int = 20_000, at: int = 10_000, log_step: float = 3.0) -> np.ndarray:
    """Scores that settle e^log_step times higher from record ``at`` on, with two spikes."""
    scores = lognormal(n)
    scores[at:] *= np.exp(log_step)
    scores[4000:4003] *= 60.0
    scores[15000:15003] *= 60.0
    return scores


def test_a_level_shift_of_the_scores_is_flagged_briefly_not_forever():
    """The default rule (rejoin 2 windows, persist 8 windows of 32 records) flags the shift for
    about half of 8·32 records, then follows the new level and still sees the later spike; without
    the two rules, flagged records never rejoin the history and everything after the shift is
    flagged."""
    rule = DetectRule()
    assert rule.windows_for(32) == (64, 256)
    train, scores = lognormal(600, seed=4), shifted()
    flags = rule.make_threshold(750, 32).fit(train).flags(scores)
    assert flags[4000:4003].all() and flags[15000:15003].all()
    assert flags[10_000:10_010].all()  # the shift itself
    assert flags[10_000:10_400].sum() <= 256 // 2 + 5
    assert flags.mean() < 0.01
    frozen = replace(rule, rejoin=0.0, persist=0.0).make_threshold(750, 32).fit(train)
    assert frozen.flags(scores)[10_000:].mean() > 0.9


@settings(max_examples=40, deadline=None)
@given(
    log_step=st.floats(-8.0, 8.0),
    at=st.integers(1000, 9000),
    sd=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
)
def test_the_flagged_share_stays_bounded_whatever_the_shift(log_step, at, sd, seed):
    """Any lasting step of the scores (up or down, any size, any noise level): the default rule
    flags at most 2% of 10,000 records plus one persist period's half."""
    rng = np.random.default_rng(seed)
    train = np.exp(rng.normal(0.0, sd, 600))
    scores = np.exp(rng.normal(0.0, sd, 10_000))
    scores[at:] *= np.exp(log_step)
    flags = DetectRule().make_threshold(750, 32).fit(train).flags(scores)
    assert flags.sum() <= 0.02 * len(scores) + 256 // 2


def test_after_a_lasting_change_the_history_restarts_at_its_first_flag():
    th = RobustThreshold(k=3.5, history=1500, step=100, span=1, rejoin=0, persist=40)
    train, scores = lognormal(600, seed=4), lognormal(1000, seed=5)
    scores[500:] *= np.exp(4.0)
    levels, flags = th.fit(train).run(scores)
    assert flags[500:520].all() and not flags[:500].any()
    # 20 of the last 40 records flagged at record 519: the history is records 500 ... 519
    logs = np.log(scores[500:520])
    median = np.median(logs)
    expected = np.exp(median + 3.5 * 1.4826 * np.median(np.abs(logs - median)))
    assert levels[520] == pytest.approx(expected)
    assert flags[520:].mean() < 0.05


def test_flagged_records_rejoin_the_history_after_rejoin_records():
    """A burst of 300 flagged records: with rejoin 50 they enter the history 50 records after
    they were scored (the level of a block is the statistic of exactly those records), so with a
    history of 400 records the threshold has followed the burst before it ends."""
    train, scores = lognormal(600, seed=4), lognormal(1000, seed=5)
    scores[200:500] *= np.exp(3.0)
    th = RobustThreshold(k=3.5, history=400, step=10, span=1, rejoin=50, persist=0).fit(train)
    levels, flags = th.run(scores)
    assert flags[200:210].all()
    b = 400  # the block starting here: records before 350 are usable again whether flagged or not
    seen = np.log(np.concatenate([train, scores]))
    keep = np.ones(len(train) + b, dtype=bool)
    keep[len(train) + 350 : len(train) + b] = ~flags[350:b]
    past = seen[: len(train) + b][keep][-400:]
    median = np.median(past)
    expected = np.exp(median + 3.5 * 1.4826 * np.median(np.abs(past - median)))
    assert levels[b] == pytest.approx(expected)
    never = RobustThreshold(k=3.5, history=400, step=10, span=1).fit(train)
    assert never.flags(scores)[200:500].mean() > 0.95  # never rejoining: the burst stays flagged
    assert not flags[400:500].any()


def test_rejoin_and_persist_are_causal_and_round_trip():
    th = RobustThreshold(k=3.5, history=1500, step=100, span=3, rejoin=64, persist=256)
    th.fit(lognormal(600, seed=4))
    scores = shifted()
    full = th.run(scores)
    cut = th.run(scores[:12_345])
    assert np.array_equal(full[1][:12_345], cut[1]) and np.allclose(full[0][:12_345], cut[0])
    again = threshold_from_dict(json.loads(json.dumps(th.to_dict())))
    assert np.array_equal(again.flags(scores), full[1])
    # a threshold saved before these rules existed loads without them
    old = {k: v for k, v in th.to_dict().items() if k not in ("rejoin", "persist")}
    assert (threshold_from_dict(old).rejoin, threshold_from_dict(old).persist) == (0, 0)


def test_window_lengths_need_the_window():
    with pytest.raises(ValueError, match="detect.rejoin and detect.persist count windows"):
        DetectRule().make_threshold(750)
    with pytest.raises(ValueError, match="persist 0 or >= 4"):
        RobustThreshold(persist=2)
    assert DetectRule(rejoin=0.0, persist=0.0).windows_for(0) == (0, 0)
