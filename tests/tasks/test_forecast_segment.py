"""The segment strategy (SegRNN), the linear skip path and the least-squares linear baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import resolve
from rnnkit.tasks.forecast import ForecastConfig, ForecastTask
from rnnkit.tasks.forecast import baselines as bl
from rnnkit.tasks.forecast.model import Forecaster
from rnnkit.train import fit


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("quantiles", [(), (0.1, 0.5, 0.9)])
def test_segment_shapes_and_every_weight_learns(cell, quantiles):
    N, L, H, C = 4, 50, 30, 3  # L and H not multiples of the segment: both are handled
    model = Forecaster(C, C, H, cell=cell, hidden_size=8, strategy="segment", lookback=L,
                       segment_length=12, quantiles=quantiles, num_layers=2,
                       channel_independent=True, linear_skip=True)  # fmt: skip
    past = torch.randn(N, L, C)
    shape = (N, H, C, 3) if quantiles else (N, H, C)
    assert model(past).shape == shape
    loss = model.loss(past, torch.randn(N, H, C))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_segment_reads_only_the_last_whole_segments():
    torch.manual_seed(0)
    model = Forecaster(1, 1, 10, hidden_size=8, strategy="segment", lookback=50,
                       segment_length=12).eval()  # fmt: skip
    past = torch.randn(2, 50, 1)
    changed = past.clone()
    changed[:, :2] += 5.0  # 50 = 4 * 12 + 2: the two oldest rows are not read
    torch.testing.assert_close(model(changed), model(past))
    changed[:, 2] += 5.0
    assert not torch.allclose(model(changed), model(past))


def test_segment_decoder_steps_are_independent_one_step_runs():
    # Oracle: run the recurrent layer by hand, one output segment at a time, from h_n.
    torch.manual_seed(0)
    w, L, H, d = 5, 20, 15, 6
    model = Forecaster(1, 1, H, cell="gru", hidden_size=d, strategy="segment", lookback=L,
                       segment_length=w, norm="none").eval()  # fmt: skip
    seg = model.segments
    x = torch.randn(3, L, 1)
    with torch.no_grad():
        _, h = seg.rnn(seg.embed(x.reshape(3, L // w, w)))
        expected = []
        for k in range(H // w):
            out, _ = seg.rnn(seg.position[k].expand(3, 1, d), h)
            expected.append(seg.head(out[:, 0]))  # (3, w)
        expected = torch.cat(expected, dim=1)[..., None]  # (3, H, 1)
        torch.testing.assert_close(model(x), expected)


def test_segment_forecast_follows_the_level():
    torch.manual_seed(0)
    model = Forecaster(2, 2, 8, hidden_size=8, strategy="segment", lookback=24, segment_length=6,
                       linear_skip=True).eval()  # fmt: skip
    with torch.no_grad():
        model.skip.weight.normal_()  # a non-zero linear path is level-free too
    past = torch.randn(3, 24, 2)
    shift = torch.tensor([4.0, -2.0])
    torch.testing.assert_close(model(past + shift), model(past) + shift, rtol=1e-5, atol=1e-5)


def test_linear_skip_starts_at_zero_and_is_refused_where_it_has_no_meaning():
    torch.manual_seed(0)
    plain = Forecaster(1, 1, 6, hidden_size=8, lookback=24).eval()
    torch.manual_seed(0)
    skip = Forecaster(1, 1, 6, hidden_size=8, lookback=24, linear_skip=True).eval()
    past = torch.randn(2, 24, 1)
    torch.testing.assert_close(skip(past), plain(past))
    with pytest.raises(ValueError, match="linear_skip needs strategy"):
        Forecaster(1, 1, 6, lookback=24, linear_skip=True, strategy="recursive")
    with pytest.raises(ValueError, match="need the lookback"):
        Forecaster(1, 1, 6, strategy="segment")
    with pytest.raises(ValueError, match="no known-future"):
        Forecaster(1, 1, 6, n_known=2, strategy="segment", lookback=24)


def test_linear_baseline_is_least_squares_on_training_windows():
    rng = np.random.default_rng(0)
    z = np.cumsum(rng.normal(size=(300, 2)), axis=0)
    L, H, fit_rows = 10, 4, (0, 200)
    origins = np.arange(210, 290)
    # oracle: numpy's lstsq on windows built by a plain loop, both channels stacked
    X, Y = [], []
    for c in range(2):
        for s in range(0, 200 - L - H + 1):
            last = z[s + L - 1, c]
            X.append(np.append(z[s : s + L, c] - last, 1.0))
            Y.append(z[s + L : s + L + H, c] - last)
    W = np.linalg.lstsq(np.array(X), np.array(Y), rcond=None)[0]
    expected = np.stack(
        [[np.append(z[o - L + 1 : o + 1, c] - z[o, c], 1.0) @ W + z[o, c] for c in range(2)]
         for o in origins]
    ).transpose(0, 2, 1)  # fmt: skip
    got = bl.linear(z, fit_rows, origins, H, L, ridge=0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-7)
    with pytest.raises(ValueError, match="hold no window"):
        bl.linear(z, (0, 12), origins, H, L)


def test_segment_model_trains_through_the_engine(tmp_path):
    t = np.arange(400)
    y = 5 + np.sin(2 * np.pi * t / 24) + 0.05 * np.random.default_rng(0).normal(size=400)
    frame = pd.DataFrame({"time": pd.date_range("2022-01-01", periods=400, freq="h"), "y": y})
    frame.to_csv(tmp_path / "s.csv", index=False)
    flags = {"data.csv": str(tmp_path / "s.csv"), "data.time_column": "time",
             "data.target": "y", "data.lookback": 48, "data.horizon": 12,
             "model.strategy": "segment", "model.segment_length": 12, "model.cell": "gru",
             "model.hidden_size": 16, "model.linear_skip": True, "train.epochs": 3,
             "train.threads": 1, "train.progress": False, "train.eval_train": False,
             "optim.lr": 3e-3, "eval.baselines": "naive,linear"}  # fmt: skip
    result = fit(ForecastTask(), resolve(ForecastConfig, flags=flags), out=tmp_path / "run")
    test = result.metrics["test"]
    assert set(test["baselines"]) == {"naive", "linear"}
    assert test["mse"] < test["baselines"]["naive"]["mse"]  # a daily sine: beats the last value
