"""Thresholds: fitted on training scores only, causal when streaming, saveable."""

from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from rnnkit.tasks.anomaly.config import DetectRule
from rnnkit.tasks.anomaly.smoothing import smooth
from rnnkit.tasks.anomaly.thresholds import (
    DynamicThreshold,
    LikelihoodThreshold,
    QuantileThreshold,
    SigmaThreshold,
    hundman_epsilon,
    make_threshold,
    threshold_from_dict,
)

rng = np.random.default_rng(0)
TRAIN = rng.gamma(2.0, 0.5, 600)
TEST = np.concatenate([rng.gamma(2.0, 0.5, 900), [40.0, 45.0], rng.gamma(2.0, 0.5, 500)])


def test_quantile_and_sigma_thresholds_come_from_training_scores_only():
    q = QuantileThreshold(q=0.99).fit(TRAIN)
    assert q.value == np.quantile(TRAIN, 0.99)
    s = SigmaThreshold(k=3.0, margin=2.0).fit(TRAIN)
    assert s.value == pytest.approx(2.0 * (TRAIN.mean() + 3.0 * TRAIN.std()))
    for threshold in (q, s):
        before = threshold.levels(TEST).copy()
        wild = TEST * 100.0
        assert np.array_equal(threshold.levels(wild), before)  # test scores never move it
    flags = q.flags(np.array([np.nan, 0.0, q.value, q.value + 1e-9]))
    assert flags.tolist() == [False, False, False, True]


def test_hundman_epsilon_separates_clear_outliers():
    scores = np.concatenate([TRAIN, [30.0, 31.0, 29.0]])
    epsilon = hundman_epsilon(scores)
    assert TRAIN.max() < epsilon < 29.0


def test_dynamic_threshold_starts_from_training_scores():
    d = DynamicThreshold(step=100, margin=1.0).fit(TRAIN)
    levels, flags = d.run(TEST)
    assert levels[0] == pytest.approx(hundman_epsilon(TRAIN))
    assert flags[900:902].all()  # the two injected spikes
    assert flags.sum() <= 6


def test_dynamic_threshold_is_causal():
    d = DynamicThreshold(step=50, history=500).fit(TRAIN)
    levels, flags = d.run(TEST)
    changed = TEST.copy()
    changed[1000:] = rng.gamma(2.0, 5.0, len(TEST) - 1000)  # rewrite the future
    levels2, flags2 = d.run(changed)
    assert np.array_equal(levels[:1000], levels2[:1000])
    assert np.array_equal(flags[:1000], flags2[:1000])


def test_skip_flagged_keeps_one_anomaly_from_hiding_the_next():
    normal = rng.gamma(2.0, 0.5, 300)
    spikes = np.concatenate([normal, [50.0] * 20, rng.gamma(2.0, 0.5, 300), [12.0]])
    plain = DynamicThreshold(step=20, skip_flagged=False).fit(TRAIN).flags(spikes)
    skipping = DynamicThreshold(step=20, skip_flagged=True).fit(TRAIN)
    levels, flags = skipping.run(spikes)
    assert plain[300:320].all() and flags[300:320].all()
    assert flags[-1] and not plain[-1]
    # Skipped records leave the history exactly as if they had never been scored.
    hidden = spikes.copy()
    hidden[300:320] = np.nan
    assert np.array_equal(levels[320:], skipping.run(hidden)[0][320:])


def test_skip_flagged_one_spike_does_not_blind_the_detector_to_a_later_flat_line():
    """A spike, then normal records, then a long stretch of moderately raised scores (a flat
    line the model cannot reconstruct): the dynamic threshold with skip_flagged flags both."""
    rule = DetectRule(threshold="dynamic", history=3000)
    scores = np.concatenate(
        [rng.gamma(2.0, 0.05, 400), [8.0] * 20, rng.gamma(2.0, 0.05, 600), [1.0] * 60]
    )
    train = rng.gamma(2.0, 0.05, 600)
    levels, flags = rule.make_threshold().fit(train).run(scores)
    assert flags[400:420].any() and flags[1020:1080].any()
    blinded = replace(rule, skip_flagged=False).make_threshold().fit(train).run(scores)[1]
    assert not blinded[1020:1080].any()  # what the default avoids


def test_likelihood_threshold_follows_its_definition_record_by_record():
    t = LikelihoodThreshold(history=300, short=7, epsilon=1e-3).fit(TRAIN)
    scores = TEST.copy()
    scores[[5, 400]] = np.nan  # NaNs are left out of both windows and never flagged
    levels, flags = t.run(scores)
    seen = np.concatenate([TRAIN[-300:], scores])
    z = NormalDist().inv_cdf(1 - 1e-3)
    for i in (0, 6, 399, 400, 401, 900, 901, 1401):
        past = seen[: 300 + i + 1]
        long, short = past[-300:], past[-7:]  # windows of records; only finite scores count
        long, short = long[np.isfinite(long)], short[np.isfinite(short)]
        assert levels[i] == pytest.approx(long.mean() + z * long.std(), rel=1e-9)
        expected = np.isfinite(scores[i]) and short.mean() > long.mean() + z * long.std()
        assert flags[i] == expected


def test_likelihood_threshold_flags_the_spikes_and_is_causal():
    t = LikelihoodThreshold(history=500, short=3, epsilon=1e-5).fit(TRAIN)
    levels, flags = t.run(TEST)
    assert flags[900:902].all() and flags[:900].sum() <= 2
    changed = TEST.copy()
    changed[1000:] = rng.gamma(2.0, 5.0, len(TEST) - 1000)  # rewrite the future
    levels2, flags2 = t.run(changed)
    assert np.array_equal(levels[:1000], levels2[:1000])
    assert np.array_equal(flags[:1000], flags2[:1000])


@pytest.mark.parametrize(
    "threshold",
    [
        QuantileThreshold(q=0.95, margin=1.2),
        SigmaThreshold(k=5),
        DynamicThreshold(step=30, p=0.2),
        LikelihoodThreshold(history=200, short=5, epsilon=1e-4),
    ],
)
def test_thresholds_round_trip_through_their_dict(threshold):
    threshold.fit(TRAIN)
    again = threshold_from_dict(threshold.to_dict())
    assert np.array_equal(again.flags(TEST), threshold.flags(TEST))
    assert np.array_equal(again.levels(TEST), threshold.levels(TEST))


def test_smooth_is_pandas_ewm_without_adjustment():
    x = rng.normal(size=200)
    expected = pd.Series(x).ewm(span=7, adjust=False).mean().to_numpy()
    assert np.allclose(smooth(x, 7), expected)
    with_nan = np.concatenate([[np.nan] * 5, x])
    assert np.isnan(smooth(with_nan, 7)[:5]).all() and np.allclose(
        smooth(with_nan, 7)[5:], expected
    )


def test_bad_threshold_settings_are_named():
    with pytest.raises(ValueError, match="threshold kind must be one of .* got 'median'"):
        make_threshold("median")
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\], got 1.5"):
        QuantileThreshold(q=1.5)
    with pytest.raises(ValueError, match="needs at least 2 finite training scores, got 0"):
        QuantileThreshold().fit(np.array([np.nan]))
    with pytest.raises(ValueError, match=r"epsilon must be in \(0, 0.5\), got 0.7"):
        make_threshold("likelihood", epsilon=0.7)
