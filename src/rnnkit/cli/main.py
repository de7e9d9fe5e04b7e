"""The ``rnnkit`` command: ``rnnkit TASK ACTION [options]``, built from the task registry.

Every task gets the standard actions it lists (``train``, ``evaluate``, ``predict``, ``tune``,
``config``; :mod:`rnnkit.cli.actions`) and its own commands (``lm generate``...). Every setting
of the task's configuration is a ``--section.key VALUE`` option, parsed once into the typed
configuration; a ``--config FILE.yaml`` is applied before the options. Errors in settings exit
with code 2, errors in data, files and checkpoints with code 1, both as one line without a
traceback (``RNNKIT_DEBUG=1`` shows it).

Only the task named on the command line is imported, so ``rnnkit --help`` starts fast.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rnnkit import __version__, console
from rnnkit.config import ConfigError, parse_flags, settings
from rnnkit.tasks import TASKS, TaskInfo, get_task

from . import actions
from .tools import TOOLS
from .typed import typed_command

HELP = """Recurrent neural networks: train, evaluate and use them from one command.

Run `rnnkit TASK --help` for a task's actions, and `rnnkit TASK ACTION --help` for every
setting."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``rnnkit`` and ``python -m rnnkit``)."""
    cli(args=sys.argv[1:] if argv is None else list(argv), prog_name="rnnkit")


class _Tasks(click.Group):
    """The root command: one subcommand per registered task (and per tool), built when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*TASKS, *TOOLS]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in TASKS:
            return task_group(TASKS[name])
        if name in TOOLS:
            module, _, function = TOOLS[name].function.partition(":")
            run = getattr(importlib.import_module(module), function)
            return _with_quiet(typed_command(name, reporting_errors(run)))
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # from the registries alone: listing the tasks imports none of them
        with formatter.section("Tasks"):
            formatter.write_dl([(info.name, info.summary) for info in TASKS.values()])
        if TOOLS:
            with formatter.section("For any task's runs"):
                formatter.write_dl([(tool.name, tool.summary) for tool in TOOLS.values()])

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Examples"):
            for example in [*(info.example for info in TASKS.values()), "rnnkit classify config"]:
                formatter.write(f"{'':>{formatter.current_indent}}{example}\n")


@click.group(
    cls=_Tasks,
    help=HELP,
    subcommand_metavar="TASK ACTION [OPTIONS]...",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="rnnkit")
def cli() -> None:
    pass


def _task_help(info: TaskInfo) -> str:
    return f"{info.summary}\n\nExample: {info.example}"


def task_group(info: TaskInfo) -> click.Group:
    """The subcommands of one task: its standard actions, its own commands, their aliases.

    Every command also takes ``-q/--quiet`` (results and errors only: no progress bars, no
    per-epoch lines), and reports errors as one line (:func:`reporting_errors`).
    """
    task = get_task(info.name)
    group = click.Group(info.name, help=_task_help(info), no_args_is_help=True)
    built: dict[str, click.Command] = {}
    for name in task.actions:
        built[name] = _with_quiet(STANDARD[name](task))
    for name, function in task.commands.items():
        built[name] = _with_quiet(typed_command(name, reporting_errors(function)))
    for name, command in built.items():
        group.add_command(command, name)
    for alias, target in task.action_aliases.items():
        command = copy.copy(built[target])
        command.name, command.help = alias, f"Same as `{target}`. {built[target].help or ''}"
        group.add_command(command, alias)
    return group


def _with_quiet(command: click.Command) -> click.Command:
    """Add ``-q/--quiet`` to ``command``; progress and epoch lines go to stderr otherwise."""
    command.params.append(
        click.Option(["-q", "--quiet"], is_flag=True, help="print results and errors only")
    )
    callback = command.callback

    @functools.wraps(callback)
    def run(*args: Any, quiet: bool = False, **kwargs: Any) -> Any:
        console.configure(quiet)
        return callback(*args, **kwargs)

    command.callback = run
    return command


# ----------------------------------------------------------------------------- errors
def reporting_errors(func: Callable) -> Callable:
    """One line on stderr and an exit code instead of a traceback (``RNNKIT_DEBUG=1`` shows it).

    Exit codes: 2 for settings and usage (``ConfigError``), 1 for data, files and checkpoints,
    130 when Ctrl-C or SIGTERM stopped the work. Anything else is an internal error: exit 1 with
    its type and message.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rnnkit.train.checkpoint import CheckpointError
        from rnnkit.train.interrupt import TrainingInterruptedError

        try:
            return func(*args, **kwargs)
        except ConfigError as e:
            _fail(e, 2)
        except (CheckpointError, ValueError, FileNotFoundError, IsADirectoryError) as e:
            _fail(e, 1)
        except TrainingInterruptedError as e:
            _fail(e, 130)
        except KeyboardInterrupt as e:
            _fail(e, 130, "stopped by Ctrl-C")
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # a bug: still one line, and the way to see more
            _fail(e, 1, f"internal error {type(e).__name__}: {e} (RNNKIT_DEBUG=1 shows where)")

    return wrapper


def _fail(error: BaseException, code: int, message: str | None = None) -> None:
    if os.environ.get("RNNKIT_DEBUG"):
        raise error
    text = message or str(error) or type(error).__name__
    click.echo(f"Error: {text}", err=True)
    sys.exit(code)


# ----------------------------------------------------------------------------- settings
class SettingsCommand(click.Command):
    """A command that also takes every ``--section.key VALUE`` setting of a task's config.

    The settings are parsed once, by :func:`rnnkit.config.parse_flags` and the typed
    configuration (unknown keys get the closest valid name); ``--help`` lists each with its
    doc and default, section by section.
    """

    def __init__(self, *args: Any, task: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {"ignore_unknown_options": True, "allow_extra_args": True}
        super().__init__(*args, **kwargs)
        self.task = task

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        rows: dict[str, list[tuple[str, str]]] = {}
        for s in settings(self.task.config_class):
            default = "''" if s.default == "" else s.default
            rows.setdefault(s.key.partition(".")[0], []).append(
                (f"--{s.key} {s.metavar}", f"{s.doc}  [default: {default}]")
            )
        for section, entries in rows.items():
            with formatter.section(f"Settings: {section}"):
                formatter.write_dl(entries)
        with formatter.section("Short forms"):
            aliases = actions.aliases_of(self.task)
            formatter.write_dl([(f"--{a}", f"--{k}") for a, k in aliases.items()])
        if self.task.presets:
            with formatter.section("Presets (--preset NAME: over the defaults, under flags)"):
                formatter.write_text(", ".join(self.task.presets))


def _config_params() -> list[click.Option]:
    return [
        click.Option(["--config", "config_file"], type=click.Path(path_type=Path), default=None,
                     help="YAML file of settings, applied before the flags"),
        click.Option(["--preset"], metavar="NAME", default=None,
                     help="named settings, under --config and flags"),
    ]  # fmt: skip


def _resolved(task: Any, ctx: click.Context, config_file, preset, base=None) -> Any:
    return actions.resolve_settings(task, parse_flags(ctx.args), config_file, preset, base)


# ----------------------------------------------------------------------------- standard actions
RUN = click.option(
    "--run", type=click.Path(path_type=Path), required=True, help="run directory (or checkpoint)"
)
CHECKPOINT = click.option(
    "--checkpoint",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="which checkpoint of the run",
)


def _train(task: Any) -> click.Command:
    @click.pass_context
    @reporting_errors
    def train(ctx, config_file, preset, out, resume):
        base = actions.saved_config(resume) if resume is not None else None
        config = _resolved(task, ctx, config_file, preset, base)
        actions.train(task, config, out, resume)

    params = [
        click.Option(["--out"], type=click.Path(path_type=Path), default=None,
                     help="run directory [default: runs/TASK-TIMESTAMP]"),
        click.Option(["--resume"], type=click.Path(path_type=Path), default=None,
                     help="continue this run directory from its last checkpoint"),
    ]  # fmt: skip
    return SettingsCommand(
        "train", callback=train, params=[*_config_params(), *params], help=actions.train.__doc__,
        task=task,
    )  # fmt: skip


def _evaluate(task: Any) -> click.Command:
    @click.command("evaluate", help=actions.evaluate.__doc__)
    @RUN
    @click.option("--data", type=click.Path(path_type=Path), default=None,
                  help="labelled data file [default: the run's test split]")  # fmt: skip
    @CHECKPOINT
    @reporting_errors
    def evaluate(run, data, checkpoint):
        actions.evaluate(task, run, data, checkpoint)

    return evaluate


def _predict(task: Any) -> click.Command:
    @click.command("predict", help=actions.predict.__doc__)
    @RUN
    @click.option("--input", "input_", type=click.Path(path_type=Path), required=True,
                  help="file of items to predict")  # fmt: skip
    @click.option("--output", type=click.Path(path_type=Path), default=None,
                  help="where to write [default: RUN/predictions.csv]")  # fmt: skip
    @CHECKPOINT
    @reporting_errors
    def predict(run, input_, output, checkpoint):
        actions.predict(task, run, input_, output, checkpoint)

    return predict


def _tune(task: Any) -> click.Command:
    @click.pass_context
    @reporting_errors
    def tune(ctx, config_file, preset, out, trials, space, timeout):
        config = _resolved(task, ctx, config_file, preset)
        actions.tune(task, config, out or Path(f"runs/{task.name}-tune"), trials, space, timeout)

    params = [
        click.Option(["--out"], type=click.Path(path_type=Path), default=None,
                     help="directory of the search [default: runs/TASK-tune]"),
        click.Option(["--trials"], type=click.IntRange(min=1), default=20, show_default=True,
                     help="number of trials"),
        click.Option(["--space"], type=click.Path(path_type=Path), default=None,
                     help="YAML search space [default: the task's]"),
        click.Option(["--timeout"], type=float, default=None,
                     help="stop starting trials after this many seconds"),
    ]  # fmt: skip
    return SettingsCommand(
        "tune", callback=tune, params=[*_config_params(), *params], help=actions.tune.__doc__,
        task=task,
    )  # fmt: skip


def _config(task: Any) -> click.Command:
    @click.pass_context
    @reporting_errors
    def config(ctx, config_file, preset):
        actions.show_config(_resolved(task, ctx, config_file, preset))

    return SettingsCommand(
        "config", callback=config, params=_config_params(), help=actions.show_config.__doc__,
        task=task,
    )  # fmt: skip


STANDARD: dict[str, Callable[[Any], click.Command]] = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "tune": _tune,
    "config": _config,
}


if __name__ == "__main__":
    main()
