"""Training dynamics from steps.csv rows: norms after clipping and the share of steps clipped."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.diagnose import read_dynamics
from rnnkit.train import OptimConfig

ROWS = [{"epoch": 0, "step": i, "loss": 1.0 / (i + 1), "lr": 1e-3, "grad_norm": g}
        for i, g in enumerate([0.5, 3.0, 1.0, 8.0, 0.2])]  # fmt: skip


def test_clip_norm_gives_the_norm_after_clipping_and_the_share_clipped():
    d = read_dynamics(ROWS, OptimConfig(clip_norm=1.0))
    np.testing.assert_array_equal(d.clipped_norm, [0.5, 1.0, 1.0, 1.0, 0.2])
    summary = d.summary()
    assert summary["fraction_clipped"] == pytest.approx(2 / 5)  # 3.0 and 8.0; 1.0 is not above
    assert summary["norm_max"] == 8.0 and summary["norm_median"] == 1.0
    assert summary["steps"] == 5 and summary["nonfinite_steps"] == 0


def test_without_clipping_nothing_is_clipped_and_clip_value_is_unknowable():
    plain = read_dynamics(ROWS, OptimConfig())
    np.testing.assert_array_equal(plain.clipped_norm, plain.norm)
    assert plain.summary()["fraction_clipped"] == 0.0
    by_value = read_dynamics(ROWS, OptimConfig(clip_value=1.0))
    assert by_value.clipped_norm is None and by_value.summary()["fraction_clipped"] is None


def test_steps_without_gradient_norms():
    rows = [{k: v for k, v in r.items() if k != "grad_norm"} for r in ROWS]
    d = read_dynamics(rows, OptimConfig(clip_norm=1.0))
    assert d.norm is None and "fraction_clipped" not in d.summary()
    assert d.summary()["last_loss"] == pytest.approx(0.2)
