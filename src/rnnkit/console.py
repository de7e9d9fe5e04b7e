"""What a run says while it works: progress bars on a terminal, one line per epoch otherwise.

* Progress bars go to stderr, and only when stderr is a terminal (``train.progress`` turns
  them off there too); piped or redirected output never holds bar redraws.
* One line per epoch goes to the ``rnnkit`` logger (the command line prints it on stderr):
  ``epoch 3 (4/30)  train_loss 0.5123  val_loss 0.4821  val_accuracy 0.9650  2.3 s``. Epochs
  are numbered from 0, as in ``log.csv``, ``best_epoch`` and ``loss.png``.
* Results (metrics, paths) are the caller's to print on stdout.

:func:`configure` sets the logger up for the command line (``--quiet``: warnings only).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("rnnkit")


def configure(quiet: bool = False) -> None:
    """Print the ``rnnkit`` logger's lines on stderr (only warnings when ``quiet``)."""
    if not any(getattr(h, "rnnkit_console", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.rnnkit_console = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.INFO)


def quiet() -> bool:
    """True when the ``rnnkit`` logger shows warnings only (``--quiet``)."""
    return not log.isEnabledFor(logging.INFO)


def bars(progress: bool) -> bool:
    """Whether to draw progress bars: asked for, not quiet, and stderr is a terminal."""
    return progress and not quiet() and sys.stderr.isatty()


def epoch_line(record: dict[str, Any], epochs: int, keys: Sequence[str]) -> str:
    """``epoch 3 (4/30)  train_loss 0.5123  val_loss 0.4821  ...  2.3 s`` from a log.csv row,
    showing the ``keys`` it has."""
    epoch = int(record["epoch"])
    shown = [f"epoch {epoch} ({epoch + 1}/{epochs})"]
    shown += [f"{k} {record[k]:.4f}" for k in keys if isinstance(record.get(k), float)]
    shown.append(f"{record['time_s']:.1f} s")
    return "  ".join(shown)


def to_json(value: Any) -> str:
    """JSON with one key per line, and lists of numbers (a confusion-matrix row) on one line."""
    text = json.dumps(value, indent=2)
    return re.sub(
        r"\[\s+([-0-9.eE+,\s]+?)\s+\]",
        lambda m: "[" + ", ".join(v.strip() for v in m[1].split(",")) + "]",
        text,
    )
