"""Hyper-parameter search with Optuna over a declared space; the best trial's run is kept.

A space maps dotted config keys to what to try::

    optim.lr:          {low: 1.0e-4, high: 1.0e-2, log: true}   # a float range
    model.hidden_size: {low: 32, high: 256, log: true}           # an int range (int bounds)
    model.cell:        [lstm, gru]                               # a choice

Every trial is a full :func:`~rnnkit.train.fit` into ``OUT/trial-NNN``; its objective is the best
value of the monitored validation metric. Trials report each epoch to Optuna, so unpromising
ones are pruned (median rule). At the end only the best trial's run directory remains, and
``OUT/tune.json`` lists every trial.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import EarlyStopping

from rnnkit.config import ConfigError, build, flatten, settings, to_dict, unknown_key_message

from .engine import fit
from .rundir import RunDir, write_json
from .task import Task


@dataclass
class TuneResult:
    """The outcome of a search.

    Attributes:
        best_params: the best trial's settings (dotted keys).
        best_value: its monitored validation value.
        best_run: its run directory (kept; the other trials' are removed).
        trials: one dict per trial: number, params, value, state.
    """

    best_params: dict[str, Any]
    best_value: float
    best_run: Path
    trials: list[dict[str, Any]]


def check_space(config_class: type, space: Mapping[str, Any]) -> None:
    """Refuse unknown keys and malformed entries, naming them."""
    known = {s.key for s in settings(config_class)}
    for key, spec in space.items():
        if key not in known:
            raise ConfigError(f"search space: {unknown_key_message(key, sorted(known))}")
        if isinstance(spec, Mapping):
            if not {"low", "high"} <= set(spec) or set(spec) - {"low", "high", "log"}:
                raise ConfigError(
                    f"search space: {key}: a range needs low and high (and optional log)"
                )
        elif not isinstance(spec, (list, tuple)) or not spec:
            raise ConfigError(
                f"search space: {key}: give a {{low, high}} range or a list of choices"
            )


def suggest(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """One trial's values for ``space`` (see the module docstring for the format)."""
    values: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, Mapping):
            low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
            if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
                values[key] = trial.suggest_int(key, low, high, log=log)
            else:
                values[key] = trial.suggest_float(key, float(low), float(high), log=log)
        else:
            values[key] = trial.suggest_categorical(key, list(spec))
    return values


class _PruneTrial(EarlyStopping):
    """Early stopping by Optuna's rule: report each epoch's monitored value; stop if pruned.

    An ``EarlyStopping`` so that Lightning calls it after the epoch's metrics are logged.
    """

    def __init__(self, trial: Any, monitor: str, mode: str) -> None:
        super().__init__(monitor=monitor, mode=mode, patience=2**31, check_on_train_epoch_end=True)
        self.trial = trial

    def _run_early_stopping_check(self, trainer: Any) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), trainer.current_epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at", trainer.current_epoch)
            trainer.should_stop = True


def tune(
    task: Task,
    config: Any,
    space: Mapping[str, Any],
    out: str | Path,
    trials: int = 20,
    timeout_s: float | None = None,
) -> TuneResult:
    """Search ``space`` around ``config`` with Optuna's TPE sampler (seeded by ``train.seed``)."""
    import optuna

    check_space(type(config), space)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(logging.WARNING)
    base = {k: (v, "base config") for k, v in flatten(to_dict(config))}
    mode = (
        config.train.mode
        if config.train.mode != "auto"
        else ("max" if config.train.monitor in task.maximize else "min")
    )
    study = optuna.create_study(
        direction="maximize" if mode == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=config.train.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    runs: dict[int, Path] = {}

    def objective(trial: Any) -> float:
        params = suggest(trial, space)
        values = {**base, **{k: (v, f"search space {k}") for k, v in params.items()}}
        trial_config = build(type(config), values)
        run_dir = out / f"trial-{trial.number:03d}"
        runs[trial.number] = run_dir
        monitor = f"val_{config.train.monitor}"
        result = fit(task, trial_config, run_dir, callbacks=[_PruneTrial(trial, monitor, mode)])
        if "pruned_at" in trial.user_attrs:
            raise optuna.TrialPruned()
        log = RunDir(run_dir).read_log()
        history = [r[monitor] for r in log if monitor in r]
        if not history:
            raise ValueError(f"tune needs validation data: {monitor} was never reported")
        best = max(history) if mode == "max" else min(history)
        trial.set_user_attr("test", (result.metrics.get("test") if result else None))
        return best if math.isfinite(best) else float("inf") * (-1 if mode == "max" else 1)

    study.optimize(objective, n_trials=trials, timeout=timeout_s, catch=())
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise ValueError("no trial completed")
    best = study.best_trial
    for number, run_dir in runs.items():
        if number != best.number and run_dir.exists():
            shutil.rmtree(run_dir)
    records = [
        {"number": t.number, "params": t.params, "value": t.value, "state": t.state.name}
        for t in study.trials
    ]
    result = TuneResult(dict(best.params), float(best.value), runs[best.number], records)
    write_json(out / "tune.json", dataclasses.asdict(result))
    return result
