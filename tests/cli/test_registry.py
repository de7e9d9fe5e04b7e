"""One registry feeds the command line: every task's listed actions, and only those, exist."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from rnnkit import __version__
from rnnkit.cli.main import cli
from rnnkit.cli.tools import TOOLS
from rnnkit.tasks import TASKS, action_names, check_task, get_task
from rnnkit.train import Task


@pytest.mark.parametrize("name", sorted(TASKS))
def test_dispatch_table_equals_the_registry(name):
    task = get_task(name)
    group = cli.get_command(None, name)
    assert sorted(group.commands) == sorted(action_names(task))
    assert "predict" not in group.commands or "predict" in task.actions
    runner = CliRunner()
    for action in action_names(task):
        done = runner.invoke(cli, [name, action, "--help"])
        assert done.exit_code == 0, (action, done.output)
        assert "Usage:" in done.output


def test_tasks_that_cannot_predict_do_not_list_it():
    for name in ("lm", "anomaly"):
        done = CliRunner().invoke(cli, [name, "predict", "--help"])
        assert done.exit_code == 2 and "No such command 'predict'" in done.output


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"actions": ("train", "predict")}, "lists predict but does not define predict"),
        ({"actions": ("train", "evaluate"), "commands": {"evaluate": print}}, "reuse standard"),
        ({"actions": ("train", "fly")}, "unknown standard actions"),
        ({"actions": ("train",), "action_aliases": {"fit": "learn"}}, "alias 'fit'"),
    ],
)
def test_inconsistent_declarations_are_refused(attributes, message):
    broken = type("Broken", (Task,), {"name": "broken", **attributes})()
    with pytest.raises(TypeError, match=message):
        check_task(broken)


def test_version_from_the_command_and_python_m():
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == f"rnnkit, version {__version__}"


def test_top_level_help_lists_every_task_without_importing_them():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom rnnkit.cli.main import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "print(out)\n"
        "print('IMPORTED', sorted(m for m in sys.modules if m.startswith('rnnkit.tasks.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for name in TASKS:
        assert f"  {name} " in done.stdout
    assert "IMPORTED []" in done.stdout


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_has_help(name):
    done = CliRunner().invoke(cli, [name, "--help"])
    assert done.exit_code == 0, done.output
    assert "Usage:" in done.output
    assert f"  {name} " in CliRunner().invoke(cli, ["--help"]).output
