"""The ``rnnkit`` command: ``rnnkit TASK ACTION [options]``, built from the task registry.

Actions: ``train``, ``evaluate``, ``predict``, ``tune`` and ``config``. Every setting of the
task's configuration is a ``--section.key VALUE`` flag (its doc is its ``--help`` line); a
``--config FILE.yaml`` is applied before the flags. Errors in settings exit with code 2, other
user errors (missing files, corrupt checkpoints) with code 1, both with one line and no
traceback (set ``RNNKIT_DEBUG=1`` to see it).

Only the task named on the command line is imported, so ``rnnkit --help`` starts fast.
"""

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from rnnkit.config import (
    ConfigError,
    flatten,
    parse_flags,
    resolve,
    settings,
    to_yaml,
    unknown_key_message,
)
from rnnkit.tasks import TASKS, TaskInfo, get_task

HELP = """Recurrent neural networks: train, evaluate and use them from one command.

Run `rnnkit TASK --help` for a task's actions, and `rnnkit TASK ACTION --help` for every setting."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``rnnkit``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    load = argv[0] if argv and argv[0] in TASKS else None
    build_app(load)(args=argv, prog_name="rnnkit")


def build_app(load: str | None = None) -> typer.Typer:
    """The command tree; only task ``load`` gets its actions (the others list their summary)."""
    examples = "\n".join(f"  {info.example}" for info in TASKS.values())
    app = typer.Typer(
        help=HELP,
        epilog=f"\b\nExamples:\n{examples}\n  rnnkit classify config",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
    for info in TASKS.values():
        sub = _task_app(info) if info.name == load else typer.Typer()
        app.add_typer(sub, name=info.name, help=f"{info.summary} Example: {info.example}")
    return app


# ----------------------------------------------------------------------------------- actions
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML file of settings, applied before flags")
]
RunOpt = Annotated[Path, typer.Option("--run", help="run directory (or checkpoint directory)")]
CkptOpt = Annotated[str, typer.Option(help="which checkpoint of the run: best or last")]


def _task_app(info: TaskInfo) -> typer.Typer:
    task = get_task(info.name)
    app = typer.Typer(
        help=f"{info.summary}\n\nExample: {info.example}",
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
    extra = {"allow_extra_args": True, "ignore_unknown_options": True}

    def config_from(
        ctx: typer.Context,
        config_file: Path | None,
        flags: dict[str, Any],
        base: dict | None = None,
    ):
        given = {k: v for k, v in _restore_keys(flags).items() if v is not None}
        given.update(parse_flags(ctx.args))
        preset = given.pop("preset", None)
        if preset is not None:  # a named set of settings: over the defaults, under YAML and flags
            presets = getattr(task, "presets", {})
            if preset not in presets:
                raise ConfigError(
                    unknown_key_message(preset, sorted(presets)).replace("key", "preset", 1)
                )
            base = {**dict(flatten(base or {})), **presets[preset]}
        return resolve(task.config_class, config_file, given, base=base, aliases=task.aliases)

    @_with_settings(task)
    def train(
        ctx: typer.Context,
        config_file: ConfigOpt = None,
        out: Annotated[
            Path | None, typer.Option(help="run directory [default: runs/TASK-TIMESTAMP]")
        ] = None,
        resume: Annotated[
            Path | None, typer.Option(help="continue this run directory from its last checkpoint")
        ] = None,
        **flags: str,
    ) -> None:
        """Train a model; write the run directory (config, metrics, logs, plots, checkpoints)."""
        base = None
        if resume is not None:
            saved = resume / "config.json"
            if not saved.is_file():
                raise ConfigError(f"--resume {resume}: no config.json there (not a run directory)")
            base = json.loads(saved.read_text())
        config = config_from(ctx, config_file, flags, base)
        from rnnkit.train import fit  # imports Lightning: only now

        result = fit(task, config, out, resume=resume)
        if result is not None:
            _print_summary(result.metrics)

    @_with_errors
    def evaluate(
        run: RunOpt,
        data: Annotated[
            Path | None, typer.Option(help="labelled data file [default: the run's test split]")
        ] = None,
        checkpoint: CkptOpt = "best",
    ) -> None:
        """Evaluate a trained run on its test split or on a labelled data file; print JSON."""
        from rnnkit.train import evaluate_run, load_run

        loaded = load_run(task, run, prefer=checkpoint)
        if data is not None:
            source = task.read_inputs(data, loaded.config, loaded.state)
        else:
            source = task.load_data(loaded.config).test
            if source is None:
                raise ConfigError(f"--run {run}: its data has no test split; give --data FILE")
        metrics, outputs = evaluate_run(loaded, source)
        print(json.dumps(metrics, indent=2))

    @_with_errors
    def predict(
        run: RunOpt,
        input: Annotated[Path, typer.Option("--input", help="file of sequences to predict")],
        output: Annotated[
            Path | None, typer.Option(help="where to write [default: RUN/predictions.csv]")
        ] = None,
        checkpoint: CkptOpt = "best",
    ) -> None:
        """Load a run's checkpoint and write predictions for an input file."""
        from rnnkit.train import load_run, predict_run

        loaded = load_run(task, run, prefer=checkpoint)
        source = task.read_inputs(input, loaded.config, loaded.state)
        predictions = predict_run(loaded, source)
        target = output or run / "predictions.csv"
        task.write_predictions(target, predictions, loaded.state)
        print(f"wrote {len(next(iter(predictions.values())))} predictions to {target}")

    @_with_settings(task)
    def tune(
        ctx: typer.Context,
        config_file: ConfigOpt = None,
        out: Annotated[Path, typer.Option(help="directory of the search")] = Path(
            f"runs/{info.name}-tune"
        ),
        trials: Annotated[int, typer.Option(min=1, help="number of trials")] = 20,
        space: Annotated[
            Path | None, typer.Option(help="YAML search space [default: the task's]")
        ] = None,
        timeout: Annotated[
            float | None, typer.Option(help="stop starting trials after this many seconds")
        ] = None,
        **flags: str,
    ) -> None:
        """Search hyper-parameters with Optuna; keep the best trial's run directory."""
        config = config_from(ctx, config_file, flags)
        search = task.search_space if space is None else _read_space(space)
        from rnnkit.train import tune as run_tune

        result = run_tune(task, config, search, out, trials=trials, timeout_s=timeout)
        print(f"best {config.train.monitor}: {result.best_value:.6g} with {result.best_params}")
        print(f"best run directory: {result.best_run}")

    @_with_settings(task)
    def config(ctx: typer.Context, config_file: ConfigOpt = None, **flags: str) -> None:
        """Print the settings as YAML (the defaults, or with --config and flags applied)."""
        print(to_yaml(config_from(ctx, config_file, flags)), end="")

    app.command(context_settings=extra)(train)
    for alias in getattr(task, "train_aliases", ()):  # other names of train, e.g. anomaly fit
        app.command(alias, context_settings=extra, help=f"Same as `train`. {train.__doc__}")(train)
    app.command()(evaluate)
    app.command()(predict)
    app.command(context_settings=extra)(tune)
    app.command("config", context_settings=extra)(config)
    for name, action in getattr(task, "actions", {}).items():  # task-specific, e.g. lm generate
        app.command(name)(_with_errors(action))
    return app


# ------------------------------------------------------------------------------------ helpers
def _with_errors(func: Callable) -> Callable:
    """Turn user errors into one line on stderr and an exit code (2: settings, 1: others)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from rnnkit.train.checkpoint import CheckpointError

        try:
            func(*args, **kwargs)
        except ConfigError as e:
            _fail(e, 2)
        except (CheckpointError, ValueError, FileNotFoundError, KeyboardInterrupt) as e:
            _fail(e, 1)

    return wrapper


def _fail(error: BaseException, code: int) -> None:
    if os.environ.get("RNNKIT_DEBUG"):
        raise error
    typer.echo(f"Error: {error}", err=True)
    raise typer.Exit(code)


def _with_settings(task: Any) -> Callable:
    """Give an action one ``--section.key`` option per setting (and the task's aliases)."""

    def decorate(func: Callable) -> Callable:
        wrapped = _with_errors(func)
        sig = inspect.signature(func)
        params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        for s in settings(task.config_class):
            default = "''" if s.default == "" else s.default
            option = typer.Option(
                f"--{s.key}",
                metavar=s.metavar,
                help=f"{s.doc}  [default: {default}]",
                show_default=False,
            )
            params.append(_keyword(s.key, option))
        for alias, key in task.aliases.items():
            option = typer.Option(
                f"--{alias}", metavar="VALUE", help=f"same as --{key}", show_default=False
            )
            params.append(_keyword(alias, option))
        if getattr(task, "presets", None):
            names = ", ".join(task.presets)
            option = typer.Option(
                "--preset",
                metavar="NAME",
                help=f"named settings ({names}), under flags",
                show_default=False,
            )
            params.append(_keyword("preset", option))
        wrapped.__signature__ = sig.replace(parameters=params)
        return wrapped

    return decorate


def _keyword(key: str, option: Any) -> inspect.Parameter:
    """A keyword parameter named after a dotted key (``optim.lr`` -> ``optim__lr``; a hyphen in
    an alias such as ``data-dir`` -> ``data_0_dir``)."""
    return inspect.Parameter(
        key.replace(".", "__").replace("-", "_0_"),
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, option],
    )


def _restore_keys(flags: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("_0_", "-").replace("__", "."): v for k, v in flags.items()}


def _read_space(path: Path) -> dict[str, Any]:
    try:
        space = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"--space {path}: {e}") from None
    if not isinstance(space, dict):
        raise ConfigError(f"--space {path}: expected a mapping of dotted keys to ranges or choices")
    return space


def _print_summary(metrics: dict[str, Any]) -> None:
    for split in ("train", "validation", "test"):
        values = metrics.get(split)
        if values:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items() if isinstance(v, float))
            print(f"{split}: {shown}")
    if "test" in metrics and "accuracy" in metrics["test"]:
        print(f"test accuracy: {metrics['test']['accuracy']:.4f}")
    print(f"wall time: {metrics['wall_time_s']:.1f} s, {metrics['parameters']} parameters")
    print(f"run directory: {metrics['run_dir']}")


if __name__ == "__main__":
    main()
