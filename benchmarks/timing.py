"""What the benchmarks share: timing the engine's epochs from the inside."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback


class EpochClock(Callback):
    """Start-to-start epoch times (the last epoch ends at the end of training), so that each
    epoch's end-of-epoch work (validation, logs, checkpoints) counts."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.marks.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        self.marks.append(time.perf_counter())

    def epochs(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]
