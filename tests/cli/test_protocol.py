"""The task protocol: a task written against it alone runs from the command line.

A toy task (``tests/support/toy_task.py``) is registered in the subprocess and gets ``train``,
``evaluate``, ``predict`` and ``config`` with no command-line code of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

TESTS = Path(__file__).resolve().parents[1]
PROGRAM = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from rnnkit.tasks import TaskInfo, register
register(TaskInfo("toy", "Is a sequence's mean positive?", "rnnkit toy train", "support.toy_task"))
from rnnkit.cli.main import main
main(sys.argv[1:])
"""


def toy(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, "toy", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "run"
    done = toy("train", "--out", out, "--train.epochs", "4")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    test_line = next(line for line in lines if line.startswith("test: "))
    assert test_line.startswith("test: loss ") and ", accuracy " in test_line
    assert f"run directory: {out}" in lines
    return out


def test_toy_task_gets_the_standard_actions():
    done = toy("--help")
    assert done.returncode == 0, done.stderr
    for action in ("train", "evaluate", "predict", "tune", "config"):
        assert f"  {action}" in done.stdout


def test_toy_task_trains_and_learns(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "toy" and metrics["epochs"] == 4
    assert metrics["test"]["accuracy"] > 0.9  # a linear rule: chance is about 0.5


def test_toy_task_evaluates_like_training_reported(run_dir):
    done = toy("evaluate", "--run", run_dir)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert json.loads(done.stdout)["accuracy"] == metrics["test"]["accuracy"]


def test_toy_task_predicts_from_a_file(run_dir, tmp_path):
    rows = np.array([[3.0] * 6, [-3.0] * 6, [2.0, 1, 1, 1, 1, 1], [-1.0] * 5 + [-2.0]])
    np.savetxt(tmp_path / "in.csv", rows, delimiter=",")
    done = toy("predict", "--run", run_dir, "--input", tmp_path / "in.csv",
               "--output", tmp_path / "out.csv")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 4 predictions to {tmp_path / 'out.csv'}"
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines == ["name,positive", "row0,1", "row1,0", "row2,1", "row3,0"]


def test_toy_task_config_prints_its_settings():
    done = toy("config", "--data.n", "50")
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["data"] == {"n": 50, "steps": 6} and config["train"]["epochs"] == 3
