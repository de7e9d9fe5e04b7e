"""Forecasting pieces that need no training: data roles and scaling, model shapes, baselines,
metrics, forecast timestamps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import resolve
from rnnkit.data import timeseries as ts
from rnnkit.data.windows import sliding_windows
from rnnkit.tasks.forecast import TASK, ForecastConfig, metrics
from rnnkit.tasks.forecast import baselines as bl
from rnnkit.tasks.forecast.data import prepare, resolve_columns
from rnnkit.tasks.forecast.model import Forecaster, pinball_loss
from rnnkit.tasks.forecast.predict import prediction_windows
from rnnkit.tasks.forecast.report import build_report
from rnnkit.tasks.forecast.task import data_state
from rnnkit.train import Context, Inputs
from rnnkit.train.evaluation import collect, predict


def synthetic(n=400, freq="h", seed=0) -> ts.TimeSeries:
    """Two daily sines with noise and a trend in the second half (a distribution shift)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n) + np.where(t > n // 2, 0.02 * t, 0)
    x = np.cos(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x": x}, index=pd.date_range("2021-01-01", periods=n, freq=freq))
    return ts.from_frame(frame, source="synthetic")


# ---------------------------------------------------------------------------- data


def test_modes_assign_roles():
    header = ["a", "b", "c", "k"]
    s = resolve_columns(header, "S", ("b",), (), (), source="f")
    assert s.targets == ("b",) and s.observed == ("b",)
    ms = resolve_columns(header, "MS", ("b",), (), ("k",), source="f")
    assert ms.targets == ("b",) and ms.observed == ("b", "a", "c") and ms.known == ("k",)
    m = resolve_columns(header, "M", (), (), ("k",), source="f")
    assert m.targets == m.observed == ("a", "b", "c")
    with pytest.raises(ValueError, match=r"f: no target column 'z'"):
        resolve_columns(header, "S", ("z",), (), (), source="f")
    with pytest.raises(ValueError, match="mode S forecasts one target"):
        resolve_columns(header, "S", ("a", "b"), (), (), source="f")


def test_scaler_fitted_on_train_rows_only():
    series = synthetic()
    prep = prepare(series, mode="MS", targets=("y",), lookback=24, horizon=6, val=0.2, test=0.2)
    a, b = prep.split.train
    assert (a, b) == (0, 240)
    raw = series.values(["y", "x"])
    np.testing.assert_allclose(prep.scaler.shift, raw[a:b].mean(0))
    np.testing.assert_allclose(prep.scaler.scale, raw[a:b].std(0))
    # Changing the test period must not change the scaling (no leakage from the future).
    shifted = series.frame.copy()
    shifted.iloc[b:] += 100.0
    prep2 = prepare(ts.from_frame(shifted), mode="MS", targets=("y",), lookback=24, horizon=6,
                    val=0.2, test=0.2)  # fmt: skip
    np.testing.assert_array_equal(prep2.scaler.shift, prep.scaler.shift)
    np.testing.assert_array_equal(prep2.z_obs[:b], prep.z_obs[:b])


def test_short_series_and_short_parts_refused():
    series = synthetic(n=50)
    with pytest.raises(
        ValueError, match=r"has 50 rows, shorter than lookback \+ horizon = 48 \+ 6"
    ):
        prepare(series, mode="S", targets=("y",), lookback=48, horizon=6)
    with pytest.raises(ValueError, match=r"the test part .* shorter than lookback \+ horizon"):
        prepare(series, mode="S", targets=("y",), lookback=12, horizon=12, val=0.3, test=5)


def test_windows_start_lookback_before_the_border():
    prep = prepare(synthetic(), mode="S", targets=("y",), lookback=24, horizon=6)
    origins = prep.origins("test")
    assert origins[0] == prep.split.test[0] - 1  # the first forecast starts at the border
    assert origins[-1] == prep.split.test[1] - 6 - 1
    assert len(prep.dataset("test")) == len(origins)


# ---------------------------------------------------------------------------- model


@pytest.mark.parametrize("strategy", ["direct", "recursive", "seq2seq"])
@pytest.mark.parametrize("n_known", [0, 3])
def test_forecaster_shapes_and_loss(strategy, n_known):
    N, L, H, C_obs, C_out = 5, 12, 7, 3, 2
    model = Forecaster(C_obs, C_out, H, n_known=n_known, hidden_size=8, strategy=strategy)
    past = torch.randn(N, L, C_obs + n_known)
    known = torch.randn(N, H, n_known) if n_known else None
    future = torch.randn(N, H, C_obs)
    model.eval()
    assert model(past, known).shape == (N, H, C_out)
    model.train()
    loss = model.loss(past, future, known)
    loss.backward()
    assert loss.ndim == 0 and all(p.grad is not None for p in model.parameters())


def test_quantile_output_shape_and_median():
    model = Forecaster(1, 1, 4, hidden_size=8, quantiles=(0.1, 0.5, 0.9))
    y = model(torch.randn(3, 10, 1))
    assert y.shape == (3, 4, 1, 3) and model.point(y).shape == (3, 4, 1)
    with pytest.raises(ValueError, match="include 0.5"):
        Forecaster(1, 1, 4, quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="not 'recursive'"):
        Forecaster(1, 1, 4, quantiles=(0.1, 0.5, 0.9), strategy="recursive")


def test_pinball_loss_matches_definition():
    y = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    q = (0.1, 0.5, 0.9)
    expected = np.mean([0.1 * 1.5, 0.5 * 0.5, (0.9 - 1) * -0.5])
    assert pinball_loss(y, target, q).item() == pytest.approx(expected)


def test_instance_norm_makes_forecast_follow_the_level():
    # With norm="last", adding a constant to the window adds it to the forecast exactly.
    torch.manual_seed(0)
    model = Forecaster(2, 1, 5, hidden_size=8, norm="last").eval()
    past = torch.randn(4, 16, 2)
    shifted = past + torch.tensor([10.0, -3.0])
    torch.testing.assert_close(model(shifted), model(past) + 10.0)


def test_recursive_forecast_feeds_back_one_step():
    torch.manual_seed(0)
    model = Forecaster(1, 1, 3, hidden_size=8, strategy="recursive", norm="none").eval()
    past = torch.randn(2, 10, 1)
    y = model(past)
    # Step-by-step by hand: append each one-step prediction and re-run the whole window.
    seq = past
    for k in range(3):
        out, _ = model.encoder(seq)
        step = model.head(out[:, -1:])
        torch.testing.assert_close(y[:, k : k + 1], step, atol=1e-5, rtol=1e-5)
        seq = torch.cat([seq, step], dim=1)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_forecast_ahead_timestamps(strategy, tmp_path):
    """The predict hooks forecast the steps after the series' last row, on its timestamps."""
    series = synthetic()
    prep = prepare(series, mode="S", targets=("y",), lookback=24, horizon=6, calendar=True)
    model = Forecaster(1, 1, 6, n_known=prep.z_known.shape[1], hidden_size=8, strategy=strategy)
    state = data_state(prep)
    inputs = Inputs(prediction_windows(series, None, state))
    predictions = predict(TASK, model, inputs.source, 64)
    assert len(predictions["forecast"]) == 1  # only the window whose future is unknown
    ctx = Context(resolve(ForecastConfig), state, "input")
    assert TASK.write_predictions(tmp_path / "ahead.csv", predictions, inputs, ctx) == 6
    frame = pd.read_csv(tmp_path / "ahead.csv", index_col=0, parse_dates=True)
    expected = pd.date_range(series.index[-1] + pd.Timedelta("1h"), periods=6, freq="h")
    assert list(frame.columns) == ["y"] and frame.shape == (6, 1)
    assert frame.index.equals(expected) and np.isfinite(frame.to_numpy()).all()


# ---------------------------------------------------------------------------- baselines, metrics


def test_simple_baselines_by_hand():
    z = np.arange(30, dtype=float)[:, None]
    origins = np.array([9, 20])
    np.testing.assert_array_equal(bl.naive(z, origins, 3)[:, :, 0], [[9, 9, 9], [20, 20, 20]])
    sn = bl.seasonal_naive(z, origins, 5, season=4)[:, :, 0]
    np.testing.assert_array_equal(sn[0], [6, 7, 8, 9, 6])  # one season before each step
    mean = bl.window_mean(z, origins, 2, lookback=4)[:, :, 0]
    np.testing.assert_allclose(mean, [[7.5, 7.5], [18.5, 18.5]])


@pytest.mark.parametrize("kind", ["arima", "ets"])
def test_statespace_rolling_forecast_matches_statsmodels(kind):
    # Oracle: statsmodels' own forecast after refiltering up to each origin with fixed params.
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=160)) * 0.1 + np.sin(np.arange(160) * 2 * np.pi / 12)
    origins = np.array([99, 120, 150])
    ours = bl.statespace(kind, y[:, None], (0, 100), origins, 6, season=12)[:, :, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "arima":
            model = SARIMAX(y[:100], order=(2, 1, 1), seasonal_order=(0, 1, 1, 12))
        else:
            model = ExponentialSmoothing(y[:100], trend=True, damped_trend=True, seasonal=12)
        fitted = model.fit(disp=False)
        for row, o in zip(ours, origins):
            np.testing.assert_allclose(row, fitted.apply(y[: o + 1]).forecast(6), atol=1e-8)


def test_metrics_values():
    true = np.array([[[1.0], [2.0]]])
    pred = np.array([[[2.0], [2.0]]])
    assert metrics.scaled_metrics(pred, true) == {"mse": 0.5, "mae": 0.5}
    orig = metrics.original_metrics(pred, true)
    assert orig["rmse"] == pytest.approx(np.sqrt(0.5)) and orig["mape"] == pytest.approx(50.0)
    assert orig["smape"] == pytest.approx(100 * (2 / 3) / 2)
    assert metrics.by_step(pred, true)["mae"] == [1.0, 0.0]
    q = np.stack([pred - 1, pred, pred + 1], axis=-1)
    assert metrics.interval_metrics(q, true, (0.1, 0.5, 0.9))["coverage"] == 1.0


def test_evaluate_report_has_baselines_and_backtest(tmp_path):
    prep = prepare(synthetic(), mode="S", targets=("y",), lookback=24, horizon=6)
    model = Forecaster(1, 1, 6, hidden_size=8, quantiles=(0.1, 0.5, 0.9))
    _, outputs = collect(TASK, model, prep.dataset("test"), 512)
    origins = outputs["start"].numpy() + prep.lookback - 1
    np.testing.assert_array_equal(origins, prep.origins("test"))  # every test window, in order
    raw = outputs["pred"].double().numpy()
    baselines = ("naive", "seasonal_naive", "mean")
    report = build_report(prep, raw, model.quantiles, origins, baselines=baselines,
                          plot_dir=tmp_path)  # fmt: skip
    assert set(report["scaled"]) == {"model", "naive", "seasonal_naive", "mean"}
    assert set(report["original"]["naive"]) == {"mae", "rmse", "mape", "smape"}
    assert len(report["by_step_mae"]["model"]) == 6
    assert report["backtest"]["folds"][:2] == [0, 6]
    assert 0.0 <= report["interval"]["coverage"] <= 1.0
    assert {p.split("/")[-1] for p in report["plots"]} == {"error_by_step.png", "forecast_y.png"}
    assert report["windows"] == len(origins) and report["targets"] == ["y"]
    # the naive baseline repeats the last observed value: its error follows from the data alone
    z = prep.z_obs[:, 0]
    true = np.stack([z[o + 1 : o + 7] for o in origins])
    naive_mae = np.abs(true - z[origins, None]).mean()
    assert report["scaled"]["naive"]["mae"] == pytest.approx(naive_mae)
    np.testing.assert_allclose(outputs["true"][..., 0].numpy(), true, atol=1e-6)
    model_mae = np.abs(raw[:, :, 0, model.quantiles.index(0.5)] - true).mean()
    assert report["scaled"]["model"]["mae"] == pytest.approx(model_mae)


def test_backtest_folds_by_hand():
    # 10 stride-1 windows, H = 3: origins every 3 windows -> folds 0, 3, 6, 9.
    rng = np.random.default_rng(0)
    true = rng.normal(size=(10, 3, 2))
    naive = true + 1.0  # error 1 everywhere
    model = true.copy()
    model[[0, 6]] += 0.5  # beats naive on folds 0 and 6
    model[3] += 2.0  # loses on fold 3; fold 9 is exact
    model[[1, 2]] += 100.0  # windows between folds are not part of the backtest
    result = metrics.backtest({"model": model, "naive": naive}, true, horizon=3)
    assert result["folds"] == [0, 3, 6, 9]
    np.testing.assert_allclose(result["model"]["mae"], [0.5, 2.0, 0.5, 0.0])
    np.testing.assert_allclose(result["model"]["mse"], [0.25, 4.0, 0.25, 0.0])
    assert result["model"]["mae_mean"] == pytest.approx(0.75)
    assert result["model"]["wins_vs_naive"] == 3 and result["naive"]["wins_vs_naive"] == 0


def test_interval_coverage_of_exact_gaussian_quantiles():
    # Oracle: the true 10% and 90% quantiles of N(0, 1) cover 80% of its draws.
    true = np.random.default_rng(0).normal(size=(4000, 5, 1))
    z = 1.2815515655446004  # Phi^-1(0.9)
    q = np.broadcast_to(np.array([-z, 0.0, z]), (*true.shape, 3))
    out = metrics.interval_metrics(q, true, (0.1, 0.5, 0.9))
    assert out["nominal"] == pytest.approx(0.8) and out["width"] == pytest.approx(2 * z)
    assert out["coverage"] == pytest.approx(0.8, abs=0.01)


@pytest.fixture
def one_thread():
    """Tiny batches: one torch thread is fastest, and fair to a shared CPU; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_trained_quantile_model_is_calibrated(one_thread):
    # A quantile forecaster trained on a noisy sine must learn intervals whose coverage on unseen
    # windows is near the nominal 80% (an untrained one is far off: its quantiles are ~equal).
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, L, H = 3000, 24, 4
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 24) + 0.3 * rng.normal(size=n)
    windows = torch.as_tensor(sliding_windows(y[:, None], L + H), dtype=torch.float32)
    train, test = windows[:2000], windows[2200:]
    model = Forecaster(1, 1, H, hidden_size=16, norm="none", quantiles=(0.1, 0.5, 0.9))
    untrained = metrics.interval_metrics(
        model(test[:, :L]).detach().double().numpy(), test[:, L:].double().numpy(), model.quantiles
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(6):  # epochs
        for batch in train[torch.randperm(len(train))].split(64):
            optimiser.zero_grad()
            model.loss(batch[:, :L], batch[:, L:]).backward()
            optimiser.step()
    with torch.no_grad():
        pred = model.eval()(test[:, :L]).double().numpy()
    out = metrics.interval_metrics(pred, test[:, L:].double().numpy(), model.quantiles)
    assert untrained["coverage"] < 0.3
    assert 0.7 <= out["coverage"] <= 0.9, out
    # The noise is N(0, 0.3^2): the exact 10-90% interval is 2 * 1.28 * 0.3 = 0.77 wide.
    assert 0.6 <= out["width"] <= 1.0, out
