"""``fit``: the one training loop of rnnkit, for every task.

::

    result = fit(task, config, out="runs/demo")
    result.metrics["test"]["accuracy"], result.run_dir

It prepares the task's data and model, trains with Lightning (early stopping, best and last
checkpoints, resumable exactly, one or many processes), then reloads the best checkpoint and
writes the final train/validation/test metrics, the loss curve and the task's reports.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.trainer.states import TrainerStatus

from rnnkit import __version__, console
from rnnkit.allocator import keep_freed_memory
from rnnkit.config import ConfigError

from .checkpoint import (
    CheckpointError,
    load_checkpoint,
    recover_checkpoints,
    resolve_checkpoint,
    update_task_state,
)
from .evaluation import collect
from .interrupt import TrainingInterruptedError, signal_name, sigterm_as_interrupt
from .module import Checkpoints, EngineModule, SafeCheckpointIO
from .plots import plot_losses
from .resume import resume_changes
from .rundir import RunDir, default_run_dir, write_json
from .task import SPLITS, Context, Task


@dataclass
class FitResult:
    """What a finished run reports (on the main process; other processes get None).

    Attributes:
        run_dir: the run directory.
        metrics: the contents of ``metrics.json``.
    """

    run_dir: Path
    metrics: dict[str, Any]


def fit(
    task: Task,
    config: Any,
    out: str | Path | None = None,
    *,
    resume: str | Path | None = None,
    stop_after_epoch: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult | None:
    """Train ``task`` with ``config`` and write a run directory.

    Args:
        task: the task (its hooks supply data, model, loss and metrics).
        config: the task's resolved configuration (sections ``optim`` and ``train`` drive this).
        out: the run directory (default ``runs/<task>-<timestamp>``).
        resume: a run directory to continue from its last checkpoint (``out`` is ignored).
            Given the same configuration, the resumed run's epochs equal an uninterrupted run's.
        stop_after_epoch: stop after this many epochs even if ``train.epochs`` is larger (the
            schedule still spans ``train.epochs``), as an interruption would.
        callbacks: extra Lightning callbacks (e.g. hyper-parameter pruning).

    Returns:
        The run's directory and metrics on the main process, None on the others.
    """
    threads = torch.get_num_threads()  # train.threads is the run's, not the caller's afterwards
    try:
        return _fit(task, config, out, resume, stop_after_epoch, callbacks)
    finally:
        torch.set_num_threads(threads)


def _fit(
    task: Task,
    config: Any,
    out: str | Path | None,
    resume: str | Path | None,
    stop_after_epoch: int | None,
    callbacks: Sequence[Callback],
) -> FitResult | None:
    started = time.perf_counter()
    t = config.train
    _check_accelerator(t)
    _quiet_lightning()
    keep_freed_memory()  # reuse freed tensor memory instead of page-faulting it back each step
    if t.threads:
        torch.set_num_threads(t.threads)
    if t.flush_denormal:
        torch.set_flush_denormal(True)
    ckpt_path, resumed = None, None
    if resume is not None:
        run = RunDir(Path(resume))
        resumed = resume_changes(run, config)  # refuses what cannot change, before any write
        recover_checkpoints(run.checkpoints)  # what a killed save left behind
        ckpt_path = str(resolve_checkpoint(run.path, prefer="last"))
        if Path(ckpt_path).name not in ("last", ".last.old"):
            raise CheckpointError(f"{run.path}: no checkpoints/last to resume from")
    else:
        run = RunDir(Path(out) if out is not None else default_run_dir(task.name))
        if run.checkpoints.exists() and any(run.checkpoints.iterdir()):
            raise ValueError(
                f"--out {run.path} already holds a run; pick a new directory or --resume it"
            )

    torch.manual_seed(t.seed)  # model initialisation
    data = task.load_data(config)
    model = task.build_model(config, data.state)
    monitor = f"val_{t.monitor}" if data.val is not None else f"train_{t.monitor}"
    mode = t.mode if t.mode != "auto" else ("max" if t.monitor in task.maximize else "min")
    if data.val is None and t.monitor != "loss":
        raise ValueError(
            f"train.monitor={t.monitor!r} needs validation data; without it only 'loss' is watched"
        )
    module = EngineModule(task, config, model, data, run, monitor, mode, resumed)

    engine_callbacks: list[Callback] = [Checkpoints(run.checkpoints, monitor, mode), *callbacks]
    early = None
    if t.early_stopping:
        early = EarlyStopping(
            monitor=monitor, mode=mode, patience=t.early_stopping, check_on_train_epoch_end=True
        )
        engine_callbacks.append(early)
    bars = console.bars(t.progress)
    if bars:
        engine_callbacks.append(
            StderrProgressBar(refresh_rate=max(1, len_hint(data.train, t) // 20))
        )
    processes = t.devices * t.num_nodes
    trainer = L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=("ddp" if processes > 1 else "auto") if t.strategy == "auto" else t.strategy,
        precision=t.precision,
        max_epochs=min(t.epochs, stop_after_epoch) if stop_after_epoch else t.epochs,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        callbacks=engine_callbacks,
        plugins=[SafeCheckpointIO()],
        logger=False,
        enable_progress_bar=bars,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        inference_mode=False,
        default_root_dir=run.path,
    )
    with sigterm_as_interrupt():
        try:
            trainer.fit(module, ckpt_path=ckpt_path)
        except SystemExit as stop:  # Lightning's answer to Ctrl-C (sys.exit) and to SIGTERM
            if trainer.state.status != TrainerStatus.INTERRUPTED:
                raise
            raise TrainingInterruptedError(_stopped(task, run, trainer, stop)) from None
        if not trainer.is_global_zero:
            return None
        stopped_early = bool(early and early.stopped_epoch > 0)
        if stopped_early:
            best = load_checkpoint(run.path, prefer="best").info.get("epoch")
            console.log.info(
                f"stopped early after epoch {early.stopped_epoch}: {monitor} did not improve "
                f"for {t.early_stopping} epochs; best epoch {best}"
            )
        elif _out_of_time(trainer):
            best = load_checkpoint(run.path, prefer="best").info.get("epoch")
            console.log.info(
                f"stopped after epoch {trainer.current_epoch - 1}: train.max_minutes "
                f"({t.max_minutes:g}) ran out; best epoch {best}"
            )
        try:
            return _finish(task, module, trainer.strategy.root_device, started, stopped_early)
        except KeyboardInterrupt:
            raise TrainingInterruptedError(
                f"stopped while evaluating the finished run {run.path} (training is complete; "
                f"`rnnkit {task.name} evaluate --run {run.path}` reports it)"
            ) from None


def _stopped(task: Task, run: RunDir, trainer: L.Trainer, stop: BaseException) -> str:
    """One line: what stopped training, what is saved, the command that continues it."""
    what = signal_name(stop)
    epoch = trainer.current_epoch
    try:
        saved = load_checkpoint(run.path, prefer="last").info.get("epoch")
    except CheckpointError:
        saved = None
    if saved is None:
        return (
            f"training stopped by {what} during epoch {epoch}, before any epoch was saved: "
            f"nothing to resume; train again with `rnnkit {task.name} train --out {run.path}`"
        )
    return (
        f"training stopped by {what} during epoch {epoch}; epochs up to {saved} are saved in "
        f"{run.path}: continue with `rnnkit {task.name} train --resume {run.path}`"
    )


def _check_accelerator(t: Any) -> None:
    if t.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError(
            "--train.accelerator gpu: no GPU is available here (torch.cuda.is_available() is "
            "False); use cpu or auto"
        )


def _finish(
    task: Task, module: EngineModule, device: torch.device, started: float, stopped_early: bool
) -> FitResult:
    """Reload the best checkpoint, calibrate, and write metrics.json, loss.png and the reports."""
    run, data, config = module.run, module.data, module.config
    t = config.train
    model = module.model.to(device)
    best = load_checkpoint(run.path, prefer="best")
    best.load_into(model)
    log = run.read_log()
    collected = {}
    for split in SPLITS:
        source = data.split(split)
        if source is not None and (split != "train" or t.eval_train):
            collected[split] = collect(
                task,
                model,
                source,
                t.eval_batch_size,
                progress=console.bars(t.progress),
                desc=split,
            )
    ctx = Context(config, data.state, "train", run.path, data)
    calibrated = task.calibrate({s: outputs for s, (_, outputs) in collected.items()}, ctx)
    if calibrated:
        state = {**data.state, **calibrated}
        update_task_state(best.path, state)
        ctx = replace(ctx, state=state)
    metrics: dict[str, Any] = {"task": task.name, "version": __version__}
    for split, (loss, outputs) in collected.items():
        values = {"loss": loss, **task.metrics(outputs, ctx.for_split(split))}
        metrics[split] = values
        task.report(outputs, values, ctx.for_split(split))
    metrics.update(
        {
            "wall_time_s": round(time.perf_counter() - started, 3),
            "parameters": sum(p.numel() for p in model.parameters()),
            "epochs": len(log),
            "best_epoch": best.info.get("epoch"),
            "stopped_early": stopped_early,
            "monitor": module.monitor,
            "run_dir": str(run.path),
        }
    )
    write_json(run.metrics, metrics)
    if log:
        title = f"{task.name}: loss per epoch ({run.path.name})"
        plot_losses(log, run.loss_plot, title=title, best_epoch=metrics["best_epoch"])
    return FitResult(run.path, metrics)


def len_hint(source: Any, t: Any) -> int:
    """Roughly the training steps per epoch (for the progress bar's refresh rate)."""
    n = len(source)
    return n if getattr(source, "carries_state", False) else max(1, n // max(1, t.batch_size))


def _quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (device lists, tips) off the console."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("LITLOGGER_DISABLE", "1")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    # every process computes the same epoch metrics (train loss is reduced, validation is whole)
    warnings.filterwarnings(
        "ignore", message=".*when logging on epoch level in distributed setting.*"
    )


class StderrProgressBar(TQDMProgressBar):
    """Lightning's training bar, drawn on stderr instead of stdout."""

    def init_train_tqdm(self) -> Tqdm:
        return Tqdm(
            desc=self.train_description,
            position=(2 * self.process_position),
            disable=self.is_disabled,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )


def _out_of_time(trainer: L.Trainer) -> bool:
    """Whether the run stopped because ``train.max_minutes`` ran out (Lightning's Timer)."""
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]
    return bool(timers) and (timers[0].time_remaining() or 0) <= 0
