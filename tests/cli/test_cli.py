"""The `rnnkit` command, run as a user runs it: in a subprocess."""

import json
import shutil

import numpy as np
import pytest
import yaml

from rnnkit import __version__
from support.cli import one_clean_error, rnnkit

QUICK = ["--model.hidden_size", "8", "--train.progress", "false", "--train.eval_train", "false"]


def test_help_lists_tasks_with_examples():
    done = rnnkit("--help")
    assert done.returncode == 0
    assert "classify" in done.stdout
    assert "rnnkit classify train --dataset digits" in done.stdout


def test_action_help_documents_every_setting():
    done = rnnkit("classify", "train", "--help")
    assert done.returncode == 0
    assert "--optim.lr" in done.stdout and "learning rate" in done.stdout
    assert "--model.pooling" in done.stdout and "--train.early_stopping" in done.stdout


def test_config_prints_yaml_that_reads_back(tmp_path):
    done = rnnkit("classify", "config")
    assert done.returncode == 0
    defaults = yaml.safe_load(done.stdout)
    assert defaults["train"]["epochs"] >= 1 and "lr" in defaults["optim"]
    path = tmp_path / "c.yaml"
    path.write_text(done.stdout)
    again = rnnkit("classify", "config", "--config", path, "--optim.lr", "0.5")
    assert again.returncode == 0
    changed = yaml.safe_load(again.stdout)
    assert changed["optim"]["lr"] == 0.5 and changed["model"] == defaults["model"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optim.l", "3"], "unknown key 'optim.l' — did you mean 'optim.lr'?"),
        (["--optim.lr", "fast"], "--optim.lr: expected a number, got 'fast'"),
        (["--train.epochs", "0"], "--train.epochs: must be >= 1"),
        (["--model.cell", "transformer"], "--model.cell: expected one of 'lstm', 'gru', 'rnn'"),
    ],
)
def test_bad_settings_exit_2_with_one_clear_line(args, message):
    assert message in one_clean_error(rnnkit("classify", "train", *args), 2)


def test_missing_data_file_is_a_clear_error(tmp_path):
    line = one_clean_error(rnnkit("classify", "train", "--data", tmp_path / "nope.npz", *QUICK), 1)
    assert "data file not found" in line and "nope.npz" in line


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run on a small file (variable lengths, a test split), via the CLI."""
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 160), ("test", 40)):
        labels = rng.integers(0, 3, n)
        seqs = np.empty(n, dtype=object)
        for i, label in enumerate(labels):
            seqs[i] = rng.normal(loc=label - 1.0, size=(rng.integers(3, 7), 4))
        arrays[f"x_{split}"], arrays[f"y_{split}"] = seqs, labels
    np.savez(root / "data.npz", **arrays)
    done = rnnkit(
        "classify",
        "train",
        "--data",
        root / "data.npz",
        "--out",
        root / "run",
        "--train.epochs",
        "8",
        *QUICK,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return root, done


def test_train_prints_headline_metrics_and_the_run_directory(trained):
    root, done = trained
    metrics = json.loads((root / "run" / "metrics.json").read_text())
    test = metrics["test"]
    assert (
        f"test: loss {test['loss']:.4f}, accuracy {test['accuracy']:.4f}, f1 {test['f1']:.4f}"
        in done.stdout.splitlines()
    )
    assert f"run directory: {root / 'run'}" in done.stdout
    assert {"validation", "test", "wall_time_s", "parameters", "version"} <= set(metrics)
    assert metrics["version"] == __version__
    confusion = np.array(test["confusion"])
    assert confusion.sum() == 40  # every test sequence, once
    assert test["accuracy"] == pytest.approx(np.trace(confusion) / 40)
    assert test["accuracy"] > 0.6  # three well-separated classes: chance is 1/3


def test_checkpoints_record_the_package_version(trained):
    root, _ = trained
    info = json.loads((root / "run" / "checkpoints" / "best" / "checkpoint.json").read_text())
    assert info["rnnkit_version"] == __version__ and info["task"] == "classify"


def test_evaluate_and_predict_from_the_run(trained):
    root, _ = trained
    done = rnnkit("classify", "evaluate", "--run", root / "run")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((root / "run" / "metrics.json").read_text())
    assert json.loads(done.stdout)["accuracy"] == metrics["test"]["accuracy"]
    done = rnnkit(
        "classify",
        "predict",
        "--run",
        root / "run",
        "--input",
        root / "data.npz",
        "--output",
        root / "p.csv",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 40 predictions to {root / 'p.csv'}"
    lines = (root / "p.csv").read_text().splitlines()
    assert lines[0].startswith("index,prediction,confidence") and len(lines) == 41


def test_resume_continues_a_run(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "run", tmp_path / "run")
    done = rnnkit("classify", "train", "--resume", tmp_path / "run", "--train.epochs", "10")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 1 + 10


def test_corrupt_checkpoint_is_refused_without_traceback(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "run", tmp_path / "run")
    weights = tmp_path / "run" / "checkpoints" / "best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    done = rnnkit("classify", "predict", "--run", tmp_path / "run", "--input", root / "data.npz")
    line = one_clean_error(done, 1)
    assert "model.safetensors" in line and "truncated" in line
