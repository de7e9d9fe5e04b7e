"""The forecast task end to end: engine training, the run's report, save -> load -> predict,
and the ``rnnkit forecast`` command through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import resolve
from rnnkit.tasks.forecast import ForecastConfig, ForecastTask
from rnnkit.tasks.forecast.evaluate import forecast_ahead
from rnnkit.train import load_run

RNNKIT = Path(sys.executable).with_name("rnnkit")
FAST = {
    "data.time_column": "time",
    "data.lookback": 24,
    "data.horizon": 6,
    "model.hidden_size": 8,
    "train.epochs": 2,
    "train.threads": 1,
    "train.progress": False,
    "train.eval_train": False,
    "eval.baselines": "naive,seasonal_naive,mean",
}


def write_series(path: Path, n: int = 300) -> Path:
    """An hourly CSV: a daily sine with noise (y) and a correlated covariate (x)."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2022-03-01", periods=n, freq="h"),
            "y": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n),
            "x": np.cos(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n),
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run (mode MS, quantiles, calendar features) shared by the tests below."""
    from rnnkit.train import fit

    tmp = tmp_path_factory.mktemp("forecast")
    csv = write_series(tmp / "series.csv")
    flags = {**FAST, "data.csv": str(csv), "data.mode": "MS", "data.target": "y"}
    flags.update({"data.calendar": True, "model.quantiles": "0.1,0.5,0.9"})
    config = resolve(ForecastConfig, flags=flags)
    task = ForecastTask()
    result = fit(task, config, out=tmp / "run")
    return task, config, result, csv


def test_run_reports_model_beside_baselines(trained):
    _, _, result, _ = trained
    test = result.metrics["test"]
    assert {"mse", "mae", "coverage", "original", "baselines", "skill_vs_naive"} <= set(test)
    assert set(test["baselines"]) == {"naive", "seasonal_naive", "mean"}
    assert set(test["original"]) == {"mae", "rmse", "mape", "smape"}
    run = result.run_dir
    for name in ("forecast_test.json", "error_by_step.png", "forecast_y.png", "loss.png"):
        assert (run / name).is_file(), name
    full = json.loads((run / "forecast_test.json").read_text())
    assert len(full["by_step_mae"]["model"]) == 6 and full["backtest"]["folds"][0] == 0


def test_saved_scalers_come_from_train_rows(trained):
    task, _, result, csv = trained
    state = json.loads((result.run_dir / "checkpoints" / "best" / "task.json").read_text())
    frame = pd.read_csv(csv)
    n_train = state["split"]["train"][1]
    expected = frame[["y", "x"]].iloc[:n_train].mean().to_numpy()
    np.testing.assert_allclose(state["scaler"]["shift"], expected)
    assert n_train == len(frame) - round(0.1 * len(frame)) - round(0.2 * len(frame))


def test_save_load_predict_is_identical(trained, tmp_path):
    task, _, result, csv = trained
    loaded = load_run(ForecastTask(), result.run_dir)
    # In memory: the model of the best checkpoint on the prepared series (scalers from train).
    expected = forecast_ahead(task.prepared, loaded.model)
    # From disk: the CLI's path, scalers rebuilt from the checkpoint's task.json.
    source = loaded.task.read_inputs(csv, loaded.config, loaded.state)
    from rnnkit.train import predict_run

    predictions = predict_run(loaded, source, progress=False)
    out = tmp_path / "pred.csv"
    loaded.task.write_predictions(out, predictions, loaded.state)
    got = pd.read_csv(out, index_col=0, parse_dates=True)
    assert list(got.columns) == ["y", "y_q0.1", "y_q0.5", "y_q0.9"]
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6)
    # Loading twice gives the same weights bit for bit.
    again = load_run(ForecastTask(), result.run_dir)
    for a, b in zip(loaded.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


def test_evaluate_loaded_run_matches_metrics(trained):
    task, _, result, _ = trained
    from rnnkit.train import evaluate_run

    loaded = load_run(task, result.run_dir)
    metrics, _ = evaluate_run(loaded, task.load_data(loaded.config).test, progress=False)
    assert metrics["mse"] == pytest.approx(result.metrics["test"]["mse"], rel=1e-6)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_forecast_timestamps_follow_the_file(tmp_path, strategy):
    from rnnkit.train import fit

    csv = write_series(tmp_path / "s.csv", n=200)
    flags = {**FAST, "data.csv": str(csv), "data.target": "y", "model.strategy": strategy}
    flags["train.epochs"] = 1
    task = ForecastTask()
    result = fit(task, resolve(ForecastConfig, flags=flags), out=tmp_path / "run")
    loaded = load_run(ForecastTask(), result.run_dir)
    frame = forecast_ahead(task.prepared, loaded.model)
    start = pd.Timestamp("2022-03-01") + pd.Timedelta(hours=200)
    assert frame.index.equals(pd.date_range(start, periods=6, freq="h"))
    assert frame.shape == (6, 1) and np.isfinite(frame.to_numpy()).all()


# ---------------------------------------------------------------------------- the command


def rnnkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RNNKIT), *args], cwd=cwd, capture_output=True, text=True)


def test_cli_train_then_predict(tmp_path):
    from rnnkit.tasks import TASKS

    assert "forecast" in TASKS, "register the forecast task in rnnkit/tasks/__init__.py"
    csv = write_series(tmp_path / "s.csv", n=200)
    train = rnnkit(
        "forecast", "train", "--csv", str(csv), "--target", "y", "--data.time_column", "time",
        "--lookback", "24", "--horizon", "6", "--model.hidden_size", "8", "--train.epochs", "1",
        "--train.threads", "1", "--train.progress", "false", "--eval.baselines", "naive",
        "--out", "run", cwd=tmp_path,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert "test:" in train.stdout
    predict = rnnkit("forecast", "predict", "--run", "run", "--input", str(csv), cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr
    frame = pd.read_csv(tmp_path / "run" / "predictions.csv", index_col=0)
    assert frame.index[0] == "2022-03-09 08:00:00" and len(frame) == 6

    # A broken input file: the error names the file, the column and the line.
    bad = tmp_path / "bad.csv"
    lines = csv.read_text().splitlines()
    lines[40] = "2022-03-02 15:00:00,,0.5"
    bad.write_text("\n".join(lines) + "\n")
    failed = rnnkit("forecast", "predict", "--run", "run", "--input", str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    assert "bad.csv: column 'y' has 1 NaN(s) at line 41" in failed.stderr
