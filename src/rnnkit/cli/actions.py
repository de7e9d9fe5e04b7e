"""The standard actions, as plain functions of a task and typed arguments.

The command line (:mod:`rnnkit.cli.main`) turns each into a subcommand of every task that lists
it in ``Task.actions``; nothing here is specific to one task. Each prints its results on stdout
and raises the project's errors (``ConfigError``, ``DataError``, ``CheckpointError``...) for the
command line to report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rnnkit import console
from rnnkit.config import ConfigError, flatten, resolve, to_yaml, unknown_key_message

if TYPE_CHECKING:  # rnnkit.train loads torch: only when an action runs
    from rnnkit.train.task import Task


COMMON_ALIASES = {"epochs": "train.epochs", "seed": "train.seed"}  # short forms every task takes


def aliases_of(task: Task) -> dict[str, str]:
    """The short forms of ``task``'s settings: the common ones and its own."""
    return {**COMMON_ALIASES, **task.aliases}


def resolve_settings(
    task: Task,
    flags: dict[str, str],
    config_file: Path | None = None,
    preset: str | None = None,
    base: dict | None = None,
) -> Any:
    """The task's configuration: defaults < ``base`` < ``preset`` < YAML file < flags."""
    if preset is not None:
        if preset not in task.presets:
            raise ConfigError(
                "--preset: " + unknown_key_message(preset, sorted(task.presets), "preset")
            )
        base = {**dict(flatten(base or {})), **task.presets[preset]}
    return resolve(task.config_class, config_file, flags, base=base, aliases=aliases_of(task))


def train(task: Task, config: Any, out: Path | None = None, resume: Path | None = None) -> None:
    """Train a model; print the task's headline metrics and the run directory."""
    from rnnkit.train import fit  # imports Lightning: only now

    result = fit(task, config, out, resume=resume)
    if result is not None:
        print_summary(result.metrics, task.headline)


def saved_config(run: Path) -> dict:
    """The configuration a run directory was trained with (for ``--resume``)."""
    saved = Path(run) / "config.json"
    if not saved.is_file():
        raise ConfigError(f"--resume {run}: no config.json there (not a run directory)")
    return json.loads(saved.read_text())


def evaluate(task: Task, run: Path, data: Path | None = None, checkpoint: str = "best") -> None:
    """Evaluate a trained run on its test split or on a labelled data file; print JSON."""
    from rnnkit.train import evaluate_run, load_run

    loaded = load_run(task, run, prefer=checkpoint)
    if data is not None:
        inputs = task.read_inputs(data, loaded.config, loaded.state)
        metrics, _ = evaluate_run(loaded, inputs.source, split="input")
    else:
        prepared = task.load_data(loaded.config)
        if prepared.test is None:
            raise ConfigError(f"--run {run}: its data has no test split; give --data FILE")
        metrics, _ = evaluate_run(loaded, prepared.test, split="test", data=prepared)
    print(console.to_json(metrics))


def predict(
    task: Task, run: Path, input: Path, output: Path | None = None, checkpoint: str = "best"
) -> None:
    """Load a run's checkpoint and write predictions for an input file."""
    from rnnkit.train import load_run, predict_run

    loaded = load_run(task, run, prefer=checkpoint)
    inputs = task.read_inputs(input, loaded.config, loaded.state)
    predictions = predict_run(loaded, inputs.source)
    target = Path(output or Path(run) / "predictions.csv")
    partial = target.with_name(f".{target.name}.tmp")  # moved into place once complete
    rows = task.write_predictions(partial, predictions, inputs, loaded.context("input"))
    partial.replace(target)
    print(f"wrote {rows} prediction{'s' if rows != 1 else ''} to {target}")


def tune(
    task: Task,
    config: Any,
    out: Path,
    trials: int = 20,
    space: Path | None = None,
    timeout: float | None = None,
) -> None:
    """Search hyper-parameters with Optuna; keep the best trial's run directory."""
    from rnnkit.train import tune as run_tune

    search = task.search_space if space is None else read_space(space)
    result = run_tune(task, config, search, out, trials=trials, timeout_s=timeout)
    print(f"best {config.train.monitor}: {result.best_value:.6g} with {result.best_params}")
    print(f"best run directory: {result.best_run}")


def show_config(config: Any) -> None:
    """Print the settings as YAML (the defaults, or with --config and flags applied)."""
    print(to_yaml(config), end="")


def read_space(path: Path) -> dict[str, Any]:
    """A YAML search space: dotted keys to ``{low, high[, log]}`` ranges or lists of choices."""
    try:
        space = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"--space {path}: {e}") from None
    if not isinstance(space, dict):
        raise ConfigError(f"--space {path}: expected a mapping of dotted keys to ranges or choices")
    return space


def print_summary(metrics: dict[str, Any], headline: tuple[str, ...]) -> None:
    """One line per split with the task's headline metrics, then time, size and directory."""
    for split in ("train", "validation", "test"):
        values = metrics.get(split)
        if not values:
            continue
        shown = [f"{k} {values[k]:.4f}" for k in headline if isinstance(values.get(k), float)]
        print(f"{split}: {', '.join(shown)}")
    print(f"wall time: {metrics['wall_time_s']:.1f} s, {metrics['parameters']} parameters")
    print(f"run directory: {metrics['run_dir']}")
