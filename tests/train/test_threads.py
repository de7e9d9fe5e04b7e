"""train.threads sets torch's thread count for the run only: the caller gets its own back."""

import torch

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import fit


def test_fit_restores_the_callers_thread_count(tmp_path):
    task = get_task("classify")
    flags = {
        "model.hidden_size": "8",
        "train.epochs": "1",
        "train.threads": "1",
        "train.progress": "false",
        "train.eval_train": "false",
    }
    original = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(original)
