"""Exact resume: stopped after epoch k and resumed == uninterrupted (same seed, CPU)."""

import pytest
import torch

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import RunDir, fit, load_checkpoint

SMALL = {
    "model.hidden_size": "12",
    "model.head_dropout": "0.3",  # randomness inside the epochs: dropout must resume exactly too
    "train.epochs": "4",
    "train.progress": "false",
    "train.eval_train": "false",
    "train.batch_size": "128",
}


def _epochs(run_dir):
    return [{k: v for k, v in row.items() if k != "time_s"} for row in RunDir(run_dir).read_log()]


@pytest.mark.parametrize(
    "schedule",
    [
        {"optim.schedule": "cosine", "optim.warmup_epochs": "1"},
        {
            "optim.schedule": "plateau",
            "optim.patience": "0",
            "optim.name": "sgd",
            "optim.lr": "0.3",
        },
    ],
    ids=["cosine", "plateau"],
)
def test_resumed_run_equals_uninterrupted_run(tmp_path, schedule):
    task = get_task("classify")
    config = resolve(task.config_class, flags={**SMALL, **schedule})
    whole = fit(task, config, tmp_path / "whole")
    part = tmp_path / "part"
    fit(task, config, part, stop_after_epoch=2)
    assert len(RunDir(part).read_log()) == 2
    resumed = fit(task, config, resume=part)

    assert _epochs(part) == _epochs(tmp_path / "whole")  # every epoch's losses and metrics
    whole_steps = [
        (r["loss"], r["grad_norm"], r["lr"]) for r in RunDir(tmp_path / "whole").read_steps()
    ]
    assert [(r["loss"], r["grad_norm"], r["lr"]) for r in RunDir(part).read_steps()] == whole_steps
    last_whole = load_checkpoint(tmp_path / "whole", prefer="last").weights
    last_part = load_checkpoint(part, prefer="last").weights
    assert all(torch.equal(last_whole[k], last_part[k]) for k in last_whole)
    assert resumed.metrics["test"] == whole.metrics["test"]
