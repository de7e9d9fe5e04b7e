"""The anomaly task end to end: engine training, thresholds from training records only,
save -> load -> the same flags, point-by-point scoring, and the ``rnnkit anomaly`` command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from rnnkit.cli.main import cli
from rnnkit.config import resolve
from rnnkit.data import DataError
from rnnkit.data.datasets.nab import probation_length
from rnnkit.data.timeseries import read_series
from rnnkit.tasks.anomaly import AnomalyConfig, fit_detector, load_detector, read_data
from support.cli import rnnkit as rnnkit_process

T, SPIKE = 1200, 900
METHODS = ("autoencoder", "forecast", "ocsvm", "iforest")
FAST = {
    "model.window": 16,
    "model.hidden_size": 8,
    "model.n_estimators": 20,
    "train.epochs": 3,
    "train.threads": 1,
    "train.progress": False,
}


def write_series(path: Path, values: np.ndarray | None = None) -> Path:
    """An hourly NAB-style CSV: a daily sine with noise and one spike at record SPIKE."""
    if values is None:
        rng = np.random.default_rng(0)
        t = np.arange(T)
        values = 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=T)
        values[SPIKE : SPIKE + 3] += 6.0
    stamps = pd.date_range("2021-01-01", periods=len(values), freq="h")
    pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(path, index=False)
    return path


def config_for(csv: Path, method: str, **flags) -> AnomalyConfig:
    return resolve(
        AnomalyConfig, flags={**FAST, "data.path": str(csv), "model.method": method, **flags}
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short run per detector on the same series, shared by the tests below.

    Returns the CSV, the detector ``fit_detector`` returned per method, and its run directory.
    """
    tmp = tmp_path_factory.mktemp("anomaly")
    csv = write_series(tmp / "series.csv")
    detectors, run_dirs = {}, {}
    for method in METHODS:
        run_dirs[method] = tmp / method
        detectors[method] = fit_detector(config_for(csv, method), run_dirs[method])
    return csv, detectors, run_dirs


def saved(run: Path) -> dict:
    """The task state the run saved with its best checkpoint (threshold, calibration ...)."""
    return json.loads((run / "checkpoints" / "best" / "task.json").read_text())


@pytest.mark.parametrize("method", METHODS)
def test_saved_detector_reproduces_the_engines_calibration_scores(runs, method):
    """The threshold was fitted on scores the engine computed in memory while training; the
    detector loaded from disk scores those calibration records the same."""
    csv, detectors, run_dirs = runs
    detector = detectors[method]
    state = saved(run_dirs[method])
    train_rows, fit_rows = state["train_rows"], state["fit_rows"]
    assert train_rows == probation_length(T) and fit_rows < train_rows
    assert len(state["calibration_scores"]) == train_rows - fit_rows
    series = read_series(csv)
    again = detector.raw_scores(series.values())[fit_rows:train_rows]
    assert np.allclose(again, state["calibration_scores"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_detector_saved_and_loaded_flags_the_same_points(runs, method):
    csv, detectors, run_dirs = runs
    first = detectors[method]
    second = load_detector(run_dirs[method])  # a fresh load, e.g. in another process
    series = read_series(csv)
    a, b = first.detect(series), second.detect(series)
    assert np.allclose(a.scores, b.scores, equal_nan=True)
    assert np.array_equal(a.flags, b.flags) and np.array_equal(a.events, b.events)


def test_the_spike_is_detected_after_the_training_records(runs):
    csv, detectors, _ = runs
    found = detectors["autoencoder"].detect(read_series(csv))
    assert found.flags[SPIKE : SPIKE + 20].any()
    assert np.isnan(found.scores[: FAST["model.window"] - 1]).all()


def test_scoring_is_point_by_point(runs):
    """Flags of records up to t are the same whether or not the records after t exist."""
    csv, detectors, _ = runs
    series = read_series(csv)
    for method in ("autoencoder", "forecast"):
        full = detectors[method].detect(series)
        cut = detectors[method].detect(series.head(SPIKE + 5))
        assert np.array_equal(full.flags[: SPIKE + 5], cut.flags)
        assert np.allclose(full.scores[: SPIKE + 5], cut.scores, equal_nan=True)


def test_detector_learns_only_from_the_probationary_period(tmp_path, runs):
    """Rewriting every record after the first 15% changes neither the network, nor the scaler,
    nor the calibration scores and threshold: they come from training records only."""
    csv, detectors, run_dirs = runs
    values = read_series(csv).values()[:, 0].copy()
    train_rows = probation_length(T)
    values[train_rows:] = 1000.0 + 50.0 * np.random.default_rng(1).normal(size=T - train_rows)
    changed = write_series(tmp_path / "changed.csv", values)
    other = fit_detector(config_for(changed, "autoencoder"), tmp_path / "run")
    mine = detectors["autoencoder"]
    ours, theirs = saved(run_dirs["autoencoder"]), saved(tmp_path / "run")
    for key in ("train_rows", "fit_rows", "scaler", "calibration_scores", "threshold"):
        assert theirs[key] == ours[key], key
    for key, value in mine.network.state_dict().items():
        assert torch.equal(value, other.network.state_dict()[key]), key


def test_with_rule_refits_the_threshold_on_the_calibration_scores(runs):
    _, detectors, _ = runs
    detector = detectors["autoencoder"]
    rule = replace(detector.config.detect, threshold="quantile", q=0.9, margin=1.0)
    other = detector.with_rule(rule)
    assert other.threshold.value == pytest.approx(np.quantile(detector.calibration, 0.9))


# ------------------------------------------------------------------------ clear errors on data
def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def stamps(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2021-01-01", periods=n, freq="h")


def test_constant_series_is_refused_naming_file_and_column(tmp_path):
    csv = write_frame(tmp_path / "flat.csv", pd.DataFrame({"timestamp": stamps(600), "cpu": 3.0}))
    with pytest.raises(ValueError, match=r"flat\.csv: column 'cpu' is constant \(3\)"):
        fit_detector(config_for(csv, "autoencoder"), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing was written


def test_all_nan_column_is_refused_naming_file_line_and_column(tmp_path):
    frame = pd.DataFrame({"timestamp": stamps(50), "a": np.arange(50.0), "b": np.nan})
    csv = write_frame(tmp_path / "holes.csv", frame)
    message = r"holes\.csv: lines 2, 3, 4, 5, 6 \(and 45 more\), column 'b': no value at all"
    for fill in ("error", "interpolate"):
        with pytest.raises(DataError, match=message):
            read_series(csv, fill=fill)
    with pytest.raises(DataError, match=message):
        fit_detector(config_for(csv, "autoencoder", **{"data.fill": "interpolate"}), tmp_path / "r")


def test_nan_values_are_refused_unless_a_fill_policy_is_given(tmp_path):
    frame = pd.DataFrame({"timestamp": stamps(5), "v": [np.nan, 1.0, np.nan, 3.0, np.nan]})
    csv = write_frame(tmp_path / "gaps.csv", frame)
    with pytest.raises(
        DataError,
        match=r"gaps\.csv: lines 2, 4, 6, column 'v': missing value \(3 in the column\); "
        r"declare a fill policy: --data\.fill ffill or interpolate",
    ):
        read_series(csv)
    with pytest.raises(
        DataError, match=r"gaps\.csv: line 2, column 'v': missing value in the first row"
    ):
        read_series(csv, fill="ffill")
    assert read_series(csv, fill="interpolate").values()[:, 0].tolist() == [1, 1, 2, 3, 3]
    # the task reads its series with the data.fill setting
    with pytest.raises(DataError, match=r"gaps\.csv: lines 2, 4, 6, column 'v'"):
        read_data(config_for(csv, "autoencoder").data)
    filled = read_data(config_for(csv, "autoencoder", **{"data.fill": "interpolate"}).data)
    assert filled.values()[:, 0].tolist() == [1, 1, 2, 3, 3]
    assert len(filled.repairs) == 1 and "'v'" in filled.repairs[0]


def test_duplicated_timestamps_are_refused_unless_kept(tmp_path):
    t = list(stamps(6))
    t[3] = t[2]
    csv = write_frame(tmp_path / "twice.csv", pd.DataFrame({"timestamp": t, "v": np.arange(6.0)}))
    with pytest.raises(
        DataError,
        match=r"twice\.csv: line 5, column 'timestamp': duplicated timestamp "
        r"2021-01-01 02:00:00 \(first at line 4\)",
    ):
        read_data(config_for(csv, "autoencoder").data)
    kept = read_data(config_for(csv, "autoencoder", **{"data.duplicates": "keep"}).data)
    assert kept.values()[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert kept.timestamps[2] == kept.timestamps[3]


def test_unsorted_timestamps_are_refused_naming_file_line_and_column(tmp_path):
    t = list(stamps(10))
    t[6], t[7] = t[7], t[6]
    frame = pd.DataFrame({"time": t, "v": np.arange(10.0)})
    csv = write_frame(tmp_path / "shuffled.csv", frame)
    with pytest.raises(
        DataError,
        match=r"shuffled\.csv: line 9, column 'time': goes back in time "
        r"\(2021-01-01 06:00:00 after 2021-01-01 07:00:00\)",
    ):
        read_series(csv)
    assert read_series(csv, order="sort").values()[:, 0].tolist()[6:8] == [7.0, 6.0]
    assert read_series(csv, order="keep").values()[:, 0].tolist()[6:8] == [6.0, 7.0]


def test_too_short_series_is_refused_naming_file_and_column(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"timestamp": stamps(120), "load": rng.normal(size=120)})
    csv = write_frame(tmp_path / "short.csv", frame)
    with pytest.raises(
        ValueError, match=r"short\.csv: column\(s\) 'load': the series is too short"
    ):
        fit_detector(config_for(csv, "forecast"), tmp_path / "run")


def test_detect_refuses_a_series_shorter_than_the_window(runs, tmp_path):
    _, detectors, _ = runs
    csv = write_series(tmp_path / "tiny.csv", np.arange(10.0))
    with pytest.raises(ValueError, match=r"tiny\.csv: column\(s\) 'value': 10 records"):
        detectors["autoencoder"].detect(read_series(csv))


def test_non_numeric_value_is_refused_naming_file_line_and_column(tmp_path):
    frame = pd.DataFrame({"timestamp": stamps(4), "v": ["1", "2", "oops", "4"]})
    csv = write_frame(tmp_path / "text.csv", frame)
    with pytest.raises(DataError, match=r"text\.csv: line 4, column 'v': not a number: 'oops'"):
        read_series(csv)


# ------------------------------------------------------------------------------ command line
def rnnkit(*args: str, cwd: Path):
    """Run ``rnnkit anomaly ARGS`` in this process (the real command tree, in ``cwd``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return CliRunner().invoke(cli, ["anomaly", *args])


def one_error_line(done) -> str:
    """The single ``Error: ...`` line a failed command printed on stderr (no traceback)."""
    assert "Traceback" not in done.output, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


def test_cli_fit_detect_evaluate(tmp_path):
    csv = write_series(tmp_path / "series.csv")
    labels = tmp_path / "labels.json"
    windows = [[str(stamps(T)[SPIKE - 20]), str(stamps(T)[SPIKE + 20])]]
    labels.write_text(json.dumps({"series.csv": windows}))
    flags = [f"--{k}={v}" for k, v in FAST.items()]
    done = rnnkit("fit", "--data", str(csv), "--out", "run", *flags, cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert "threshold" in saved(tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    printed = done.stdout.splitlines()
    assert f"validation: loss {metrics['validation']['loss']:.4f}" in printed
    assert "run directory: run" in printed

    done = rnnkit("detect", "--run", "run", "--input", str(csv), "--output", "d.csv", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "d.csv")
    expected = load_detector(tmp_path / "run").detect(read_series(csv))
    assert list(table.columns) == ["timestamp", "value", "score", "threshold", "flag", "event"]
    assert np.allclose(table["score"].to_numpy(), expected.scores, equal_nan=True)
    assert np.array_equal(table["flag"].to_numpy(), expected.flags.astype(int))
    assert np.flatnonzero(table["event"].to_numpy()).tolist() == expected.events.tolist()
    assert f"{len(expected.events)} event(s), {int(expected.flags.sum())} flagged" in done.stdout

    done = rnnkit("evaluate", "--run", "run", "--labels", str(labels), cwd=tmp_path)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["windows"] == 1 and result["tp"] + result["fn"] == 1
    assert result["probation"] == probation_length(T)
    assert result["events"] == expected.events.tolist()
    assert json.loads((tmp_path / "run" / "evaluation.json").read_text()) == result
    # evaluate takes the labelled series with --data, as every task's evaluate does
    again = rnnkit("evaluate", "--run", "run", "--data", str(csv), "--labels", str(labels),
                   cwd=tmp_path)  # fmt: skip
    assert again.exit_code == 0 and json.loads(again.stdout) == result
    plot = rnnkit("detect", "--run", "run", "--input", str(csv), "--plot", "p.png", cwd=tmp_path)
    assert plot.exit_code == 0 and (tmp_path / "p.png").stat().st_size > 10_000

    done = rnnkit("detect", "--run", "run", "--input", "missing.csv", cwd=tmp_path)
    assert done.exit_code == 1
    assert one_error_line(done) == "Error: missing.csv: no such file"

    holes = pd.read_csv(csv)
    holes.loc[40, "value"] = np.nan
    write_frame(tmp_path / "holes.csv", holes)
    done = rnnkit("detect", "--run", "run", "--input", "holes.csv", cwd=tmp_path)
    assert done.exit_code == 1
    assert one_error_line(done).startswith("Error: holes.csv: line 42, column 'value': missing")

    done = rnnkit("predict", "--run", "run", "--input", str(csv), cwd=tmp_path)
    assert done.exit_code == 2 and "No such command 'predict'" in done.output


@pytest.mark.slow
def test_console_script_train_and_fit_are_the_same_command(tmp_path):
    csv = write_series(tmp_path / "series.csv")
    flags = [f"--{k}={v}" for k, v in FAST.items()]
    for action in ("train", "fit"):
        out = tmp_path / action
        done = rnnkit_process("anomaly", action, "--data", csv, "--out", out, *flags, timeout=600)
        assert done.returncode == 0, done.stderr
    assert saved(tmp_path / "train") == saved(tmp_path / "fit")
    train, fit = load_detector(tmp_path / "train"), load_detector(tmp_path / "fit")
    for key, value in train.network.state_dict().items():
        assert torch.equal(value, fit.network.state_dict()[key]), key
