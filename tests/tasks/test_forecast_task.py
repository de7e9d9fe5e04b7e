"""The forecast task end to end: engine training, the run's report, save -> load -> predict,
and the ``rnnkit forecast`` command through a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from rnnkit.cli.main import cli
from rnnkit.config import resolve
from rnnkit.data.frequency import calendar_features
from rnnkit.tasks.forecast import ForecastConfig, Forecaster, ForecastTask
from rnnkit.tasks.forecast.data import Prepared
from rnnkit.tasks.forecast.task import prepare_series
from rnnkit.train import evaluate_run, load_run, predict_run
from support.cli import one_clean_error, rnnkit


def in_process(*args) -> subprocess.CompletedProcess:
    """``rnnkit ARGS...`` run in this process (no interpreter start-up); the same fields as
    :func:`rnnkit`. test_cli_train_then_predict runs the command in a real subprocess."""
    done = CliRunner().invoke(cli, [*map(str, args)])
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


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


@torch.no_grad()
def forecast_ahead(prep: Prepared, model: Forecaster) -> pd.DataFrame:
    """Oracle for ``rnnkit forecast predict``: the model run once on the last ``lookback`` rows.

    Written here independently of the task's prediction path: the scaled rows come from the
    prepared series (scalers fitted on its training rows), the future calendar features are
    computed from the future timestamps, and the forecast is unscaled by hand. Returns a frame
    on the ``horizon`` timestamps after the series, one column per target and
    ``<target>_q<level>`` per quantile.
    """
    assert not prep.columns.known, "the oracle only knows calendar features"
    index, freq, H, L = prep.series.index, prep.series.freq, prep.horizon, prep.lookback
    future = pd.date_range(index[-1], periods=H + 1, freq=freq)[1:]
    past = torch.as_tensor(np.concatenate([prep.z_obs, prep.z_known], axis=1)[-L:])
    known = None
    if prep.calendar:
        calendar = prep.known_scaler.transform(calendar_features(future, freq).to_numpy())
        known = torch.as_tensor(calendar, dtype=torch.float32)[None]  # (1, H, C_k)
    y = model.eval()(past.float()[None], known)[0].double().numpy()  # (H, C_out[, Q])
    targets, qs = prep.columns.targets, model.quantiles
    shift, scale = prep.scaler.shift[: len(targets)], prep.scaler.scale[: len(targets)]
    point = y[..., qs.index(0.5)] if qs else y
    columns = {name: point[:, c] * scale[c] + shift[c] for c, name in enumerate(targets)}
    for j, q in enumerate(qs):
        for c, name in enumerate(targets):
            columns[f"{name}_q{q:g}"] = y[:, c, j] * scale[c] + shift[c]
    return pd.DataFrame(columns, index=future)


def predict_file(run_dir: Path, csv: Path, out: Path) -> pd.DataFrame:
    """What ``rnnkit forecast predict --run RUN --input CSV --output OUT`` does, in this process:
    the run loaded from disk, the file scaled with the saved scalers, the predictions written."""
    loaded = load_run(ForecastTask(), run_dir)
    inputs = loaded.task.read_inputs(csv, loaded.config, loaded.state)
    predictions = predict_run(loaded, inputs.source, progress=False)
    rows = loaded.task.write_predictions(out, predictions, inputs, loaded.context("input"))
    frame = pd.read_csv(out, index_col=0, parse_dates=True)
    assert rows == len(frame)
    return frame


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
    _, config, result, csv = trained
    loaded = load_run(ForecastTask(), result.run_dir)
    # In memory: the model of the best checkpoint on the prepared series (scalers from train).
    expected = forecast_ahead(prepare_series(config), loaded.model)
    # From disk: the CLI's path, scalers rebuilt from the checkpoint's task.json.
    got = predict_file(result.run_dir, csv, tmp_path / "pred.csv")
    assert list(got.columns) == ["y", "y_q0.1", "y_q0.5", "y_q0.9"]
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6)
    # Loading twice gives the same weights bit for bit.
    again = load_run(ForecastTask(), result.run_dir)
    for a, b in zip(loaded.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


def test_evaluate_loaded_run_matches_metrics(trained):
    task, _, result, _ = trained
    loaded = load_run(task, result.run_dir)
    data = task.load_data(loaded.config)
    metrics, _ = evaluate_run(loaded, data.test, split="test", data=data, progress=False)
    expected = result.metrics["test"]
    for key in ("loss", "mse", "mae", "coverage", "skill_vs_naive"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-6), key
    assert metrics["original"] == pytest.approx(expected["original"], rel=1e-6)
    assert set(metrics["baselines"]) == set(expected["baselines"])
    for name, values in expected["baselines"].items():
        assert metrics["baselines"][name]["mae"] == pytest.approx(values["mae"], rel=1e-9), name


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_forecast_timestamps_follow_the_file(tmp_path, strategy):
    from rnnkit.train import fit

    csv = write_series(tmp_path / "s.csv", n=200)
    flags = {**FAST, "data.csv": str(csv), "data.target": "y", "model.strategy": strategy}
    flags["train.epochs"] = 1
    config = resolve(ForecastConfig, flags=flags)
    result = fit(ForecastTask(), config, out=tmp_path / "run")
    frame = predict_file(result.run_dir, csv, tmp_path / "pred.csv")
    start = pd.Timestamp("2022-03-01") + pd.Timedelta(hours=200)
    assert frame.index.equals(pd.date_range(start, periods=6, freq="h", name="time"))
    assert list(frame.columns) == ["y"] and np.isfinite(frame.to_numpy()).all()
    model = load_run(ForecastTask(), result.run_dir).model
    expected = forecast_ahead(prepare_series(config), model)
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------- the command


def test_cli_train_then_predict(tmp_path):
    from rnnkit.tasks import TASKS

    assert "forecast" in TASKS, "register the forecast task in rnnkit/tasks/__init__.py"
    csv = write_series(tmp_path / "s.csv", n=200)
    run = tmp_path / "run"
    train = rnnkit(
        "forecast", "train", "--csv", csv, "--target", "y", "--data.time_column", "time",
        "--lookback", "24", "--horizon", "6", "--model.hidden_size", "8", "--train.epochs", "1",
        "--train.threads", "1", "--train.progress", "false", "--eval.baselines", "naive",
        "--out", run,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    # one line per split with the headline metrics, as metrics.json holds them
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("train", "validation", "test"):
        m = metrics[split]
        line = f"{split}: mse {m['mse']:.4f}, mae {m['mae']:.4f}"
        assert line in train.stdout.splitlines(), train.stdout
    assert re.search(r"^wall time: ", train.stdout, re.M)
    assert f"run directory: {run}" in train.stdout.splitlines()
    predict = rnnkit("forecast", "predict", "--run", run, "--input", csv)
    assert predict.returncode == 0, predict.stderr
    assert f"wrote 6 predictions to {run / 'predictions.csv'}" in predict.stdout
    frame = pd.read_csv(run / "predictions.csv", index_col=0)
    assert frame.index[0] == "2022-03-09 08:00:00" and len(frame) == 6
    assert frame.index.name == "time" and list(frame.columns) == ["y"]

    # A broken input file: one error line naming the file, the line and the column.
    bad = tmp_path / "bad.csv"
    lines = csv.read_text().splitlines()
    lines[40] = "2022-03-02 15:00:00,,0.5"
    bad.write_text("\n".join(lines) + "\n")
    failed = rnnkit("forecast", "predict", "--run", run, "--input", bad)
    line = one_clean_error(failed, 1)
    assert line.startswith(f"Error: {bad}: line 41, column 'y': missing value (1 in the column)")
    assert "the run was trained with data.fill 'error'" in line  # predict has no --data.fill


def test_predicted_quantiles_never_cross(tmp_path):
    csv = write_series(tmp_path / "s.csv", n=200)
    run = tmp_path / "run"
    train = in_process(
        "forecast", "train", "--csv", csv, "--target", "y", "--data.time_column", "time",
        "--lookback", "24", "--horizon", "6", "--model.hidden_size", "8", "--epochs", "1",
        "--model.quantiles", "0.1,0.5,0.9", "--eval.baselines", "naive", "--out", run, "-q",
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert in_process("forecast", "predict", "--run", run, "--input", csv).returncode == 0
    frame = pd.read_csv(run / "predictions.csv", index_col=0)
    low, mid, high = (frame[f"y_q{q}"].to_numpy() for q in ("0.1", "0.5", "0.9"))
    assert (low <= mid).all() and (mid <= high).all() and (low < high).any()
    # the model's raw outputs, before any training: sorted along the quantile axis by design
    torch.manual_seed(3)
    model = Forecaster(1, 1, 6, hidden_size=4, quantiles=(0.1, 0.5, 0.9))
    y = model(torch.randn(16, 24, 1))
    assert (y.diff(dim=-1) >= 0).all()


def write_panel(path: Path, names=("a", "b", "c"), n: int = 240) -> Path:
    rng = np.random.default_rng(1)
    frames = []
    for k, name in enumerate(names):
        t = pd.date_range("2021-01-01", periods=n, freq="h")
        y = 10 * (k + 1) + (k + 1) * np.sin(np.arange(n) * 2 * np.pi / 24) + rng.normal(0, 0.1, n)
        frames.append(pd.DataFrame({"unique_id": name, "ds": t, "y": y}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_one_global_model_over_several_series(tmp_path):
    csv = write_panel(tmp_path / "panel.csv")
    run = tmp_path / "run"
    done = in_process(
        "forecast", "train", "--csv", csv, "--data.id_column", "unique_id",
        "--data.time_column", "ds", "--target", "y", "--lookback", "48", "--horizon", "12",
        "--model.hidden_size", "8", "--epochs", "2", "--out", run, "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    state = load_run(ForecastTask(), run).state
    frame = pd.read_csv(csv)
    for name in ("a", "b", "c"):  # each series scaled with its own train rows
        train = state["series"][name]["split"]["train"]
        y = frame[frame.unique_id == name].y.to_numpy()[slice(*train)]
        assert state["series"][name]["scaler"]["shift"] == pytest.approx([y.mean()])
    assert in_process("forecast", "predict", "--run", run, "--input", csv,
                  "--output", tmp_path / "p.csv").returncode == 0  # fmt: skip
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["ds", "unique_id", "y"] and len(out) == 36
    for k, name in enumerate(("a", "b", "c")):
        rows = out[out.unique_id == name]
        assert rows.ds.iloc[0] == "2021-01-11 00:00:00" and len(rows) == 12
        assert abs(rows.y.mean() - 10 * (k + 1)) < 5 * (k + 1)  # each at its own level
    other = write_panel(tmp_path / "other.csv", names=("a", "z"))
    failed = in_process("forecast", "predict", "--run", run, "--input", other)
    assert "series ['z'] (column 'unique_id') were not among the series" in one_clean_error(
        failed, 1
    )
