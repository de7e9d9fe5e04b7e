"""Runs a user can trust, checked the way a user meets them: the command in a subprocess.

Resume refuses what cannot change and keeps the run intact; Ctrl-C and SIGTERM stop with one line
and the resume command; output off a terminal is one line per epoch; every error is one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from rnnkit.train import load_checkpoint
from support.cli import COMMAND, one_clean_error, rnnkit

DIGITS = ["classify", "train", "--dataset", "digits", "--model.hidden_size", "16"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A finished 3-epoch digits run (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("trust") / "run"
    done = rnnkit(*DIGITS, "--epochs", "3", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, done


# ----------------------------------------------------------------------------- resume
def test_resume_refuses_a_changed_model_setting_and_touches_nothing(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run[0], run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    done = rnnkit("classify", "train", "--resume", run, "--model.hidden_size", "32")
    line = one_clean_error(done, 2)
    assert "model.hidden_size was 16 when the run started and is 32 now" in line
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before  # config.json and every checkpoint file untouched
    again = rnnkit("classify", "train", "--resume", run, "--epochs", "4", "-q")
    assert again.returncode == 0, again.stderr  # the run still resumes


def test_resume_records_the_settings_it_may_change(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run[0], run)
    done = rnnkit("classify", "train", "--resume", run, "--epochs", "5", "--optim.lr", "0.005")
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["epochs"] == 5 and config["optim"]["lr"] == 0.005
    history = json.loads((run / "resumes.json").read_text())
    assert history == [
        {
            "from_epoch": 3,
            "changed": {
                "optim.lr": {"was": 0.01, "now": 0.005},
                "train.epochs": {"was": 3, "now": 5},
            },
        }
    ]
    assert len((run / "log.csv").read_text().splitlines()) == 1 + 5


# ----------------------------------------------------------------------------- signals
def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_for(condition, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting for the run"
        time.sleep(0.05)


def _epochs_logged(run) -> int:
    log = run / "log.csv"
    return max(0, len(log.read_text().splitlines()) - 1) if log.exists() else 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_says_how_to_resume_and_keeps_its_last_epoch(tmp_path, sig):
    run = tmp_path / "run"
    proc = _start(*DIGITS, "--epochs", "500", "--out", str(run), "-q")
    # epoch 2 logged: epoch 1's checkpoint is complete (each epoch logs, then saves)
    _wait_for(lambda: _epochs_logged(run) >= 3 or proc.poll() is not None)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    line = one_clean_error(subprocess.CompletedProcess([], proc.returncode, out, err), 130)
    name = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert f"training stopped by {name} during epoch" in line
    assert f"continue with `rnnkit classify train --resume {run}`" in line
    saved = int(line.split("epochs up to ")[1].split()[0])
    assert load_checkpoint(run, prefer="last").info["epoch"] == saved >= 1
    done = rnnkit("classify", "train", "--resume", run, "--epochs", str(saved + 2), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _epochs_logged(run) == saved + 2


def test_stopped_before_the_first_epoch_says_there_is_nothing_to_resume(tmp_path):
    run = tmp_path / "run"
    proc = _start(*DIGITS, "--model.hidden_size", "512", "--out", str(run), "-q")
    _wait_for(lambda: (run / "config.json").exists() or proc.poll() is not None)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    line = one_clean_error(subprocess.CompletedProcess([], proc.returncode, out, err), 130)
    assert "during epoch 0, before any epoch was saved: nothing to resume" in line


# ----------------------------------------------------------------------------- output
def test_off_a_terminal_results_go_to_stdout_and_one_line_per_epoch_to_stderr(digits_run):
    _, done = digits_run
    assert "\r" not in done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith("train: loss ")
    assert len(done.stdout.splitlines()) == 5  # train, validation, test, time, directory
    epochs = [line for line in done.stderr.splitlines() if line.strip()]
    assert [line.split("  ")[0] for line in epochs] == [f"epoch {i} ({i + 1}/3)" for i in range(3)]
    assert all("train_loss" in line and "val_accuracy" in line for line in epochs)


def test_progress_false_keeps_epoch_lines_and_quiet_drops_them(tmp_path):
    shown = rnnkit(*DIGITS, "--epochs", "2", "--train.progress", "false", "--out", tmp_path / "a")
    assert shown.returncode == 0 and len(shown.stderr.strip().splitlines()) == 2
    quiet = rnnkit(*DIGITS, "--epochs", "2", "-q", "--out", tmp_path / "b")
    assert quiet.returncode == 0 and quiet.stderr.strip() == ""
    assert quiet.stdout.splitlines()[-1] == f"run directory: {tmp_path / 'b'}"


def test_early_stopping_is_said(tmp_path):
    done = rnnkit(
        *DIGITS, "--epochs", "200", "--train.early_stopping", "1", "--out", tmp_path / "r"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["stopped_early"] and last.startswith("stopped early after epoch ")
    assert last.endswith(f"best epoch {metrics['best_epoch']}")


def test_evaluate_and_predict_draw_no_bars_off_a_terminal(digits_run, tmp_path):
    run, _ = digits_run
    done = rnnkit("classify", "evaluate", "--run", run)
    assert done.returncode == 0 and done.stderr == ""
    metrics = json.loads(done.stdout)
    confusion_lines = [line for line in done.stdout.splitlines() if line.strip().startswith("[")]
    assert len(confusion_lines) == len(metrics["confusion"]) == 10  # one row per line
    rows = np.random.default_rng(0).uniform(0, 16, size=(700, 8, 8))  # several batches
    np.savez(tmp_path / "x.npz", x=rows)
    done = rnnkit("classify", "predict", "--run", run, "--input", tmp_path / "x.npz",
                  "--output", tmp_path / "p.csv")  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr


# ----------------------------------------------------------------------------- errors
def test_gpu_on_a_machine_without_one_is_a_settings_error():
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    line = one_clean_error(rnnkit(*DIGITS, "--train.accelerator", "gpu"), 2)
    assert "--train.accelerator gpu: no GPU is available here" in line


def test_float_labels_are_named(tmp_path):
    np.savez(tmp_path / "f.npz", x_train=np.zeros((20, 3, 2)), y_train=np.linspace(0, 1, 20))
    line = one_clean_error(rnnkit("classify", "train", "--data", tmp_path / "f.npz"), 1)
    assert "f.npz: y_train must hold integer class labels" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "line 1: the file is empty"),
        (b"sequence,label,a\ns1,0,1\n\x89PNG\x00\n", "line 3: not UTF-8 text"),
        (b"sequence,label,a\ns1,0,1\ns1,0,\n", "line 3, column 'a': empty"),
    ],
    ids=["empty", "binary", "empty-cell"],
)
def test_bad_sequence_csv_is_named(tmp_path, content, message):
    (tmp_path / "s.csv").write_bytes(content)
    line = one_clean_error(rnnkit("classify", "train", "--data", tmp_path / "s.csv"), 1)
    assert f"s.csv: {message}" in line


def test_an_unknown_checkpoint_name_is_a_usage_error(digits_run):
    done = rnnkit("classify", "evaluate", "--run", digits_run[0], "--checkpoint", "middle")
    assert done.returncode == 2 and "'middle' is not one of 'best', 'last'" in done.stderr


def test_epochs_is_a_short_form_in_every_task():
    for task in ("classify", "lm", "forecast", "anomaly"):
        done = rnnkit(task, "config", "--epochs", "7")
        assert done.returncode == 0 and "epochs: 7" in done.stdout, (task, done.stderr)


def test_predict_on_a_csv_keeps_the_sequence_ids(digits_run, tmp_path):
    rows = ["sequence," + ",".join(f"f{i}" for i in range(8))]
    rng = np.random.default_rng(0)
    for name in ("alpha", "beta", "gamma"):
        rows += [f"{name}," + ",".join(f"{v:.1f}" for v in rng.uniform(0, 16, 8)) for _ in range(8)]
    (tmp_path / "new.csv").write_text("\n".join(rows) + "\n")
    done = rnnkit("classify", "predict", "--run", digits_run[0], "--input", tmp_path / "new.csv",
                  "--output", tmp_path / "p.csv")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 3 predictions to {tmp_path / 'p.csv'}"
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0].startswith("index,name,prediction")
    assert [line.split(",")[1] for line in lines[1:]] == ["alpha", "beta", "gamma"]
