"""The run directory: everything one training run leaves behind.

::

    runs/classify-20250101-120000/
        config.json        the resolved configuration
        metrics.json       final metrics: train / validation / test, wall_time_s, parameters ...
        log.csv            one row per epoch: train loss, validation metrics, learning rate, time
        steps.csv          one row per optimiser step: loss, gradient norm, learning rate
        loss.png           the loss curves
        checkpoints/best/  the best epoch by the monitored metric (see rnnkit.train.checkpoint)
        checkpoints/last/  the last finished epoch (what --resume continues from)
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>``."""
    return Path(root) / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename): a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class RunDir:
    """Paths of a run directory (nothing is created until :meth:`create`)."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def log(self) -> Path:
        return self.path / "log.csv"

    @property
    def steps(self) -> Path:
        return self.path / "steps.csv"

    @property
    def loss_plot(self) -> Path:
        return self.path / "loss.png"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def create(self) -> RunDir:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    # ------------------------------------------------------------------------- epoch/step logs
    def read_log(self) -> list[dict[str, float]]:
        """The rows of ``log.csv`` as numbers (empty if there is none yet)."""
        return _read_csv(self.log)

    def read_steps(self) -> list[dict[str, float]]:
        """The rows of ``steps.csv`` (epoch, step, loss, lr, grad_norm)."""
        return _read_csv(self.steps)

    def truncate_logs(self, epoch: int) -> None:
        """Drop the rows of ``epoch`` and later (a resumed run writes them again)."""
        for path in (self.log, self.steps):
            if path.exists():
                _write_csv(path, [r for r in _read_csv(path) if r["epoch"] < epoch])

    def append_log(self, row: dict[str, float]) -> None:
        """Add one epoch's row to ``log.csv``."""
        _append_csv(self.log, [row])

    def append_steps(self, rows: Sequence[dict[str, float]]) -> None:
        """Add one epoch's optimiser steps to ``steps.csv``."""
        _append_csv(self.steps, rows)


def _columns(rows: Sequence[dict[str, float]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _write_csv(path: Path, rows: Sequence[dict[str, float]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(rows))
        writer.writeheader()
        for row in rows:  # repr keeps every float exact
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    tmp.replace(path)


def _append_csv(path: Path, rows: Sequence[dict[str, float]]) -> None:
    """Append rows under the file's header (written from the rows when the file is new)."""
    if not rows:
        return
    new = not path.exists() or path.stat().st_size == 0
    if new:
        columns = _columns(rows)
    else:
        with path.open(newline="") as f:
            columns = next(csv.reader(f))
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def _read_csv(path: Path) -> list[dict[str, float]]:
    """The rows of a log; a last line cut short (the process died while appending it) is not
    a row."""
    if not path.exists():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return [{k: _number(v) for k, v in row.items() if v != ""} for row in rows]


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
