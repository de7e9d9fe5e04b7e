"""The engine's configuration sections, shared by every task: ``optim`` and ``train``.

A task's configuration class holds these two beside its own ``data`` and ``model`` sections::

    @dataclass(frozen=True)
    class MyConfig:
        data: MyData = MyData()
        model: MyModel = MyModel()
        optim: OptimConfig = OptimConfig()
        train: TrainConfig = TrainConfig()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnkit.config import Section, option


@dataclass(frozen=True)
class OptimConfig(Section):
    """Optimiser, learning-rate schedule, regularisation and gradient clipping."""

    name: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad"] = option("adam", "optimiser")
    lr: float = option(
        1e-3, "learning rate (the peak rate when a schedule is used)", low=0, low_open=True
    )
    momentum: float = option(0.9, "momentum for sgd and rmsprop", low=0, high=1)
    nesterov: bool = option(False, "Nesterov momentum (sgd)")
    beta1: float = option(0.9, "Adam/AdamW first-moment decay", low=0, high=1)
    beta2: float = option(0.999, "Adam/AdamW second-moment decay", low=0, high=1)
    eps: float = option(
        1e-8, "denominator epsilon (adam, adamw, rmsprop, adagrad)", low=0, low_open=True
    )
    weight_decay: float = option(0.0, "the optimiser's weight decay (decoupled for adamw)", low=0)
    l1: float = option(0.0, "L1 penalty coefficient on weight matrices, added to the loss", low=0)
    l2: float = option(0.0, "L2 penalty coefficient on weight matrices, added to the loss", low=0)
    clip_norm: float = option(0.0, "clip the gradient's global L2 norm to this (0: off)", low=0)
    clip_value: float = option(0.0, "clip each gradient element to [-v, v] (0: off)", low=0)
    schedule: Literal["none", "step", "exponential", "cosine", "plateau"] = option(
        "none", "learning-rate schedule"
    )
    warmup_epochs: float = option(
        0.0, "linear warm-up from 0 over this many epochs (any schedule)", low=0
    )
    step_size: int = option(10, "step: decay every this many epochs", low=1)
    gamma: float = option(
        0.5,
        "decay factor: step (per step_size), exponential (per epoch), plateau",
        low=0,
        low_open=True,
        high=1,
    )
    patience: int = option(3, "plateau: epochs without improvement before decaying", low=0)
    min_lr: float = option(0.0, "cosine: the final rate; plateau: the lowest rate", low=0)


@dataclass(frozen=True)
class TrainConfig(Section):
    """The training loop: epochs, batches, early stopping, BPTT, devices and logging."""

    epochs: int = option(30, "maximum number of epochs", low=1)
    max_minutes: float = option(
        0.0,
        "also stop after this many minutes of training (0: no limit); the run keeps its best "
        "checkpoint and is evaluated as after its last epoch",
        low=0,
    )
    batch_size: int = option(64, "global batch size (split evenly across processes)", low=1)
    eval_batch_size: int = option(512, "batch size for validation, test and prediction", low=1)
    seed: int = option(0, "seed for initialisation, shuffling and dropout", low=0)
    monitor: str = option(
        "loss", "validation metric that picks the best checkpoint and stops early"
    )
    mode: Literal["auto", "min", "max"] = option(
        "auto", "whether the monitored metric should fall or rise (auto: from the task)"
    )
    early_stopping: int = option(
        0, "stop after this many epochs without improvement (0: off)", low=0
    )
    tbptt: int = option(0, "truncated BPTT chunk length in steps (0: full BPTT)", low=0)
    bucketing: int = option(
        0,
        "batch sequences of similar lengths: buckets of this many batches sorted by length, "
        "batch order shuffled (0: off; needs sequences with lengths)",
        low=0,
    )
    accelerator: Literal["auto", "cpu", "gpu"] = option("auto", "device kind")
    devices: int = option(1, "processes (CPU) or GPUs per machine; > 1 trains data-parallel", low=1)
    num_nodes: int = option(1, "machines taking part (launch with torchrun)", low=1)
    strategy: Literal["auto", "ddp", "ddp_spawn"] = option(
        "auto", "multi-process strategy (ddp: gloo on CPU, NCCL on GPU)"
    )
    precision: Literal["32-true", "bf16-mixed"] = option("32-true", "numeric precision")
    threads: int = option(
        0, "torch CPU threads during the run, per process (0: torch's default)", low=0
    )
    flush_denormal: bool = option(
        False,
        "CPU: flush subnormal floats (below 1e-38 in float32) to zero; vanishing gradients "
        "reach them, and arithmetic on them is 10-100x slower",
    )
    progress: bool = option(True, "show progress bars")
    log_grad_norm: bool = option(True, "record each step's gradient norm in steps.csv")
    eval_train: bool = option(True, "also report final metrics on the training set")
