"""The Lightning side of the engine: one ``LightningModule`` that runs any task.

:class:`EngineModule` wraps the task's plain ``nn.Module`` and owns the optimisation step
(manual optimisation: one step per batch or truncated-BPTT chunk, penalties, clipping, the
learning rate of the step), the end-of-epoch validation, and the epoch and step logs.
:class:`SafeCheckpointIO` makes Lightning's own checkpoint save/resume machinery write and read
:mod:`rnnkit.train.checkpoint` directories instead of pickles.

Per epoch, in order (Lightning calls the module's hook before the monitoring callbacks):
train steps -> ``on_train_epoch_end``: validation, schedule, logs -> early stopping and
checkpoints (``ModelCheckpoint``/``EarlyStopping``, which see the metrics just logged).
"""

from __future__ import annotations

import gc
import shutil
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from rnnkit import __version__, console
from rnnkit.config import to_dict

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .evaluation import batch_size_of, evaluate
from .loading import TrainBatches, derive_seed
from .optim import build_optimizer, clip_gradients, penalized_weights, penalty
from .resume import record_resume
from .rundir import RunDir, write_json
from .schedules import LRSchedule
from .task import Context, Task, TaskData
from .tbptt import detach_state


class EngineModule(L.LightningModule):
    """Trains ``model`` for ``task`` with the ``optim`` and ``train`` sections of ``config``.

    Args:
        task: supplies the loss (``task.step``) and metrics.
        config: the task's resolved configuration.
        model: the task's plain ``nn.Module`` (saved under its own parameter names).
        data: the prepared data; ``data.state`` is saved with every checkpoint.
        run: the run directory (rank 0 writes logs there; other ranks receive rank 0's path).
        monitor: the logged metric name that picks checkpoints (``val_loss``, ``train_loss``...).
        mode: ``"min"`` or ``"max"``.
        resumed: for a resumed run, the settings changed since it started (else None); they are
            recorded once the run has started from its checkpoint.
    """

    def __init__(
        self,
        task: Task,
        config: Any,
        model: torch.nn.Module,
        data: TaskData,
        run: RunDir,
        monitor: str,
        mode: str,
        resumed: dict[str, tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.task, self.config, self.model, self.data = task, config, model, data
        self.run, self.monitor, self.mode = run, monitor, mode
        self.resumed = resumed
        self.automatic_optimization = False  # one optimiser step per batch or TBPTT chunk, ours
        self.train_batches: TrainBatches | None = None
        self.schedule: LRSchedule | None = None
        self._schedule_state: dict[str, Any] | None = None  # from a checkpoint, applied on setup
        self._first_epoch: int | None = None
        self._carry: Any = None  # recurrent state handed from one TBPTT chunk to the next
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._penalized = penalized_weights(model)

    # ------------------------------------------------------------------------------- set-up
    def setup(self, stage: str) -> None:
        trainer = self.trainer
        self.run = RunDir(Path(trainer.strategy.broadcast(str(self.run.path), src=0)))
        if trainer.is_global_zero:
            self.run.create()
        t = self.config.train
        self.train_batches = TrainBatches(
            self.data.train,
            t.batch_size,
            t.seed,
            trainer.global_rank,
            trainer.world_size,
            t.tbptt,
            t.bucketing,
        )

    def train_dataloader(self) -> TrainBatches:
        return self.train_batches

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = build_optimizer(self._params, self.config.optim)
        self.schedule = LRSchedule(
            self.config.optim, len(self.train_batches), self.config.train.epochs, self.mode
        )
        if self._schedule_state is not None:
            self.schedule.load_state_dict(self._schedule_state)
        return optimizer

    # ------------------------------------------------------------------------------ training
    def on_train_start(self) -> None:
        # config.json is written once the run has started (for a resumed run: from its
        # checkpoint), so a run that fails to start keeps the one it had
        if self.trainer.is_global_zero:
            if self.resumed is None:
                write_json(self.run.config, to_dict(self.config))
            else:
                record_resume(self.run, self.config, self.resumed, self.current_epoch)
        # Python's full garbage collections walk every live object (torch and Lightning alone:
        # ~400k); one took ~200 ms here, an eighth of an epoch. What exists now lives as long as
        # the run, so it is frozen out of the collector's walks until teardown.
        gc.collect()
        gc.freeze()

    def teardown(self, stage: str) -> None:
        gc.unfreeze()

    def on_train_epoch_start(self) -> None:
        epoch = self.current_epoch
        if self._first_epoch is None:  # first epoch of this fit: drop rows a resumed run redoes
            self._first_epoch = epoch
            if self.trainer.is_global_zero:
                self.run.truncate_logs(epoch)
        self.train_batches.set_epoch(epoch)
        # dropout and other randomness depend on (seed, epoch, rank) only: resumable exactly
        torch.manual_seed(derive_seed(self.config.train.seed, epoch, self.global_rank, 1))
        self._carry = None
        self._loss_sum: list[torch.Tensor] = []
        self._weights: list[float] = []
        self._norms: list[torch.Tensor] = []
        self._lrs: list[float] = []
        self._epoch_start = time.perf_counter()

    def training_step(self, item: tuple[dict[str, torch.Tensor], bool], batch_idx: int) -> None:
        batch, reset = item
        optimizer = self.optimizers()
        lr = self.schedule.lr(self.global_step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step = self.task.step(self.model, batch, None if reset else self._carry)
        o = self.config.optim
        extra = penalty(self._penalized, o.l1, o.l2)
        loss = step.loss if extra is None else step.loss + extra
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        log_norm = self.config.train.log_grad_norm
        if o.clip_norm or o.clip_value or log_norm:
            norm = clip_gradients(self._params, o.clip_norm, o.clip_value)
        optimizer.step()
        if step.state is not None:
            self._carry = detach_state(step.state)  # gradients stop at the chunk boundary
        weight = float(step.weight) if step.weight is not None else batch_size_of(batch)
        self._loss_sum.append(step.loss.detach() * weight)  # stays on the device: no sync here
        self._weights.append(weight)
        self._lrs.append(lr)
        if log_norm:
            self._norms.append(norm)

    def on_train_epoch_end(self) -> None:
        epoch = self.current_epoch
        total = (
            torch.stack(self._loss_sum).sum().double()
            if self._loss_sum
            else torch.zeros((), dtype=torch.float64)
        )
        sums = torch.stack(
            [
                total.to(self.device),
                torch.tensor(sum(self._weights), dtype=torch.float64, device=self.device),
            ]
        )
        if self.trainer.world_size > 1:
            sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
        record: dict[str, Any] = {
            "epoch": epoch,
            "lr": self._lrs[-1] if self._lrs else self.config.optim.lr,
        }
        record["train_loss"] = float(sums[0] / sums[1].clamp(min=1e-12))
        t = self.config.train
        if self.data.val is not None:
            ctx = Context(self.config, self.data.state, "validation", self.run.path, self.data)
            metrics, _ = evaluate(
                self.task,
                self.model,
                self.data.val,
                t.eval_batch_size,
                ctx,
                progress=console.bars(t.progress),
            )
            record.update({f"val_{k}": v for k, v in metrics.items() if _is_number(v)})
        record["time_s"] = time.perf_counter() - self._epoch_start
        if self.monitor not in record:
            raise ValueError(
                f"train.monitor: the task reports no metric {self.monitor!r}; it reports "
                f"{sorted(k for k in record if k.startswith(('val_', 'train_')))}"
            )
        self.schedule.observe(record[self.monitor])
        logged = {k: v for k, v in record.items() if k.startswith(("train_", "val_"))}
        shown = {"train_loss", "val_loss", self.monitor}  # the progress bar shows these
        for k, v in logged.items():
            self.log(k, v, prog_bar=k in shown, on_step=False, on_epoch=True)
        if self.trainer.is_global_zero:
            self._write_logs(record)
            keys = dict.fromkeys(
                ["train_loss", "val_loss", *(f"val_{k}" for k in self.task.headline), self.monitor]
            )
            console.log.info(console.epoch_line(record, self.config.train.epochs, list(keys)))

    def _write_logs(self, record: dict[str, Any]) -> None:
        self.run.append_log(record)
        first = self.global_step - len(self._lrs)
        norms = torch.stack(self._norms).tolist() if self._norms else [None] * len(self._lrs)
        sums = torch.stack(self._loss_sum).double().cpu() if self._loss_sum else torch.zeros(0)
        losses = (sums / torch.tensor(self._weights, dtype=torch.float64)).tolist()  # one transfer
        rows = [
            {
                "epoch": record["epoch"],
                "step": first + i,
                "loss": loss,
                "lr": lr,
                **({"grad_norm": n} if n is not None else {}),
            }
            for i, (loss, lr, n) in enumerate(zip(losses, self._lrs, norms))
        ]
        self.run.append_steps(rows)

    # --------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rnnkit"] = {
            "task": self.task.name,
            "config": to_dict(self.config),
            "task_state": self.data.state,
            "schedule": self.schedule.state_dict() if self.schedule else None,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        engine = checkpoint.get("rnnkit", {})
        if engine.get("task") not in (None, self.task.name):
            raise CheckpointError(
                f"the checkpoint belongs to task {engine['task']!r}, not {self.task.name!r}"
            )
        self._schedule_state = engine.get("schedule")


class SafeCheckpointIO(CheckpointIO):
    """Lightning's checkpoint I/O through :mod:`rnnkit.train.checkpoint`: no pickles anywhere.

    The LightningModule's weights (``model.*``) go to ``model.safetensors`` under the plain
    model's names; the engine's ``config``/``task_state`` to JSON beside them; the rest of
    Lightning's checkpoint (loops, optimiser, callbacks) to ``trainer.json`` + tensors.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        lightning = dict(checkpoint)
        weights = {k.removeprefix("model."): v for k, v in lightning.pop("state_dict").items()}
        engine = dict(lightning.pop("rnnkit", {}))
        config, task_state = engine.pop("config", {}), engine.pop("task_state", {})
        info = {
            "task": engine.get("task"),
            "epoch": lightning.get("epoch"),
            "global_step": lightning.get("global_step"),
            "rnnkit_version": __version__,
        }
        save_checkpoint(
            path, weights, config, task_state, {"lightning": lightning, "engine": engine}, info
        )

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        ckpt = load_checkpoint(path)
        if ckpt.trainer_state is None:
            raise CheckpointError(
                f"{ckpt.path}: holds weights only; a run resumes from a full checkpoint"
            )
        lightning = dict(ckpt.trainer_state["lightning"])
        lightning["state_dict"] = {f"model.{k}": v for k, v in ckpt.weights.items()}
        lightning["rnnkit"] = {
            **ckpt.trainer_state["engine"],
            "config": ckpt.config,
            "task_state": ckpt.task_state,
        }
        return lightning

    def remove_checkpoint(self, path: Any) -> None:
        shutil.rmtree(path, ignore_errors=True)


class Checkpoints(ModelCheckpoint):
    """``ModelCheckpoint`` writing ``checkpoints/best`` and ``checkpoints/last`` directories."""

    FILE_EXTENSION = ""

    def __init__(self, dirpath: Path, monitor: str, mode: str) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="best",
            monitor=monitor,
            mode=mode,
            save_top_k=1,
            save_last=True,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
