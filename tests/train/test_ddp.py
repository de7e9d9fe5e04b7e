"""Data-parallel training: 2 CPU processes (gloo) reach the accuracy band of 1 process."""

import json
import os
import subprocess
import sys

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import fit

FLAGS = {
    "model.hidden_size": "32",
    "train.epochs": "8",
    "train.early_stopping": "0",
    "train.progress": "false",
    "train.eval_train": "false",
}


def test_two_processes_reach_the_single_process_accuracy_band(tmp_path):
    task = get_task("classify")
    single = fit(task, resolve(task.config_class, flags=FLAGS), tmp_path / "one")

    args = [f"--{k}={v}" for k, v in FLAGS.items()]
    args += ["--train.devices=2", "--train.accelerator=cpu", "--train.strategy=ddp"]
    command = [
        sys.executable,
        "-m",
        "rnnkit.cli.main",
        "classify",
        "train",
        "--out",
        str(tmp_path / "two"),
        *args,
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    double = json.loads((tmp_path / "two" / "metrics.json").read_text())

    one, two = single.metrics["test"]["accuracy"], double["test"]["accuracy"]
    assert one >= 0.9 and two >= 0.9, (one, two)
    assert abs(one - two) <= 0.04, (one, two)
    # the global batch is split: both runs take the same number of optimiser steps per epoch
    steps = [
        len((tmp_path / name / "steps.csv").read_text().splitlines()) for name in ("one", "two")
    ]
    assert steps[0] == steps[1]
