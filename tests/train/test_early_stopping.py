"""Early stopping on a chosen validation metric; the best checkpoint is the best epoch."""

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.train import RunDir, fit, load_checkpoint


def test_early_stopping_stops_after_patience(tmp_path):
    task = get_task("classify")
    flags = {
        "model.hidden_size": "16",
        "optim.lr": "0.03",  # overfits within a few epochs: validation loss turns up
        "train.epochs": "60",
        "train.early_stopping": "2",
        "train.progress": "false",
        "train.eval_train": "false",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    log = RunDir(tmp_path / "run").read_log()
    losses = [row["val_loss"] for row in log]
    best = losses.index(min(losses))
    assert result.metrics["stopped_early"] is True
    assert len(log) < 60 and len(log) == best + 1 + 2  # stopped `patience` epochs after the best
    assert load_checkpoint(tmp_path / "run", prefer="best").info["epoch"] == best
    assert result.metrics["best_epoch"] == best


def test_monitor_a_metric_that_should_rise(tmp_path):
    task = get_task("classify")
    flags = {
        "model.hidden_size": "8",
        "train.epochs": "3",
        "train.monitor": "accuracy",
        "train.progress": "false",
        "train.eval_train": "false",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    accuracies = [row["val_accuracy"] for row in RunDir(tmp_path / "run").read_log()]
    assert result.metrics["monitor"] == "val_accuracy"
    assert result.metrics["best_epoch"] == accuracies.index(max(accuracies))


def test_max_minutes_stops_a_run_and_keeps_its_best_checkpoint(tmp_path, caplog):
    """train.max_minutes stops within the epoch in which the time runs out; that epoch is
    still validated and checkpointed, and the run is evaluated as usual."""
    task = get_task("classify")
    flags = {
        "model.hidden_size": "8",
        "train.epochs": "500",
        "train.max_minutes": "0.0001",  # 6 ms: runs out during the first epoch
        "train.progress": "false",
        "train.eval_train": "false",
    }
    with caplog.at_level("INFO"):
        result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    assert len(RunDir(tmp_path / "run").read_log()) == 1
    assert load_checkpoint(tmp_path / "run", prefer="best").info["epoch"] == 0
    assert "test" in result.metrics
    assert "train.max_minutes (0.0001) ran out" in caplog.text
