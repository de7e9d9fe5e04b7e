"""What the benchmarks share: timing the engine's epochs from the inside, and a training
command's CPU time and load average from the outside."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

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


def run_command(command: list[str], env: dict | None = None) -> float:
    """Run a command to its end (an error if it fails): the CPU seconds of it and its children
    alone, so that commands run side by side do not count each other's."""
    process = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return usage.ru_utime + usage.ru_stime


def timed_command(command: list[str], run: Path, lock: str | None) -> dict:
    """Run a training command (under ``flock lock`` if given) that writes the run directory
    ``run``: its CPU seconds and the load average while it trained."""
    loads: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:  # the 1-minute load average every 30 s while the command runs
        while not done.wait(30):
            loads.append((time.time(), os.getloadavg()[0]))

    threading.Thread(target=sample, daemon=True).start()
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    cpu = run_command((["flock", lock] if lock else []) + command, env)
    done.set()
    wall = json.loads((run / "metrics.json").read_text())["wall_time_s"]
    during = [load for t, load in loads if t >= time.time() - wall]  # not the wait for the lock
    return {"cpu_s": round(cpu, 1), "load_during": during, "load_after": os.getloadavg()}
