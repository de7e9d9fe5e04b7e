"""Hyper-parameter search: a declared space, Optuna trials, the best run kept."""

import json

import pytest

from rnnkit.config import ConfigError, resolve
from rnnkit.tasks import get_task
from rnnkit.train import load_checkpoint, tune


def test_search_keeps_only_the_best_run(tmp_path):
    task = get_task("classify")
    config = resolve(
        task.config_class,
        flags={
            "train.epochs": "2",
            "train.progress": "false",
            "train.eval_train": "false",
            "model.hidden_size": "8",
        },
    )
    space = {"optim.lr": {"low": 1e-3, "high": 3e-2, "log": True}, "model.cell": ["gru", "rnn"]}
    result = tune(task, config, space, tmp_path, trials=2)
    assert [p.name for p in tmp_path.glob("trial-*")] == [result.best_run.name]
    best = load_checkpoint(result.best_run)
    assert best.config["model"]["cell"] == result.best_params["model.cell"]
    assert best.config["optim"]["lr"] == result.best_params["optim.lr"]
    record = json.loads((tmp_path / "tune.json").read_text())
    assert len(record["trials"]) == 2
    values = [t["value"] for t in record["trials"]]
    assert result.best_value == min(values)  # validation loss: lower is better


def test_space_keys_are_checked():
    task = get_task("classify")
    config = resolve(task.config_class)
    with pytest.raises(ConfigError, match="did you mean 'optim.lr'"):
        tune(task, config, {"optim.lrr": [0.1]}, "unused", trials=1)
