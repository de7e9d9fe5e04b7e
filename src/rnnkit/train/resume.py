"""What may change when a run is resumed, and the record of what did.

A resumed run continues from ``checkpoints/last`` with the weights, optimiser state, schedule
and data state saved there, so the settings that shaped them cannot change: the data, the model,
the optimiser's kind and moments, the schedule's kind, the batch size and the seed. A few
settings only steer what is still to come, and may change (:data:`RESUMABLE`); the changes are
recorded in ``resumes.json`` and the run's ``config.json`` is rewritten once the resumed run has
started. Anything else is refused before a file is touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError, flatten, to_dict

from .rundir import RunDir, write_json

RESUMABLE = frozenset(
    {
        "train.epochs",
        "train.early_stopping",
        "train.eval_batch_size",
        "train.eval_train",
        "train.progress",
        "train.log_grad_norm",
        "train.threads",
        "train.max_minutes",
        "train.flush_denormal",
        "optim.lr",  # the engine sets every step's rate from it and the step count
        "optim.min_lr",
        "optim.clip_norm",
        "optim.clip_value",
        "optim.l1",
        "optim.l2",
    }
)


def resume_changes(run: RunDir, config: Any) -> dict[str, tuple[Any, Any]]:
    """The settings that differ from the run's ``config.json``: key -> (old, new).

    Raises ``ConfigError`` naming the first setting that cannot change on resume, with its old
    and new value, before anything is written.
    """
    try:
        saved = dict(flatten(json.loads(run.config.read_text())))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"--resume {run.path}: cannot read its config.json ({e})") from None
    current = dict(flatten(to_dict(config)))
    changed = {
        k: (saved.get(k), current.get(k))
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    }
    for key, (old, new) in changed.items():
        if key not in RESUMABLE:
            raise ConfigError(
                f"--resume {run.path}: {key} was {old!r} when the run started and is {new!r} now; "
                f"it shaped the saved model, data or optimiser state, so it cannot change on "
                f"resume (these can: {', '.join(sorted(RESUMABLE))})"
            )
    return changed


def record_resume(
    run: RunDir, config: Any, changes: dict[str, tuple[Any, Any]], epoch: int
) -> None:
    """Append to ``resumes.json`` and rewrite ``config.json`` (both atomically)."""
    path = Path(run.path) / "resumes.json"
    history = json.loads(path.read_text()) if path.is_file() else []
    history.append(
        {"from_epoch": epoch, "changed": {k: {"was": a, "now": b} for k, (a, b) in changes.items()}}
    )
    write_json(path, history)
    write_json(run.config, to_dict(config))
