"""A command-line command from a plain typed function: its parameters are the options.

::

    def generate(run: Path, prompt: str = "", length: int = 500, seed: int | None = None):
        \"\"\"Generate text from a trained language model.

        Args:
            run: run directory (or checkpoint directory).
            prompt: text that primes the state.
            ...
        \"\"\"

becomes ``generate --run PATH [--prompt TEXT] [--length INT] [--seed INT]``: a parameter
without a default is a required option, ``bool`` is a ``--name/--no-name`` switch, ``Literal``
gives choices, ``X | None`` an optional value; the help is the docstring's summary and its
``Args:`` lines. A value the function returns (text, a number...) is printed. Nothing in the
function depends on the command-line library.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

_ARG = re.compile(r"^\s{4,}(\w+):\s*(.*)$")


def typed_command(name: str, function: Callable[..., Any]) -> click.Command:
    """A ``click.Command`` named ``name`` that calls ``function`` with the parsed options."""
    summary, arg_help = _docstring(function)
    hints = typing.get_type_hints(function)
    params = []
    for p in inspect.signature(function).parameters.values():
        kind, optional = _click_type(hints.get(p.name, str))
        flag = "--" + p.name.rstrip("_").replace("_", "-")
        help_text = arg_help.get(p.name, "")
        if kind is bool:
            params.append(
                click.Option([f"{flag}/--no-{flag[2:]}", p.name], default=p.default,
                             show_default=True, help=help_text)
            )  # fmt: skip
            continue
        required = p.default is inspect.Parameter.empty
        params.append(
            click.Option([flag, p.name], type=kind, required=required,
                         default=None if required else p.default,
                         show_default=not required and p.default is not None, help=help_text)
        )  # fmt: skip

    def callback(**kwargs: Any) -> None:
        result = function(**kwargs)
        if result is not None:
            print(result)

    return click.Command(name, params=params, callback=callback, help=summary)


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """The click type of an annotation, and whether None is allowed."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = True, args[0]
    if typing.get_origin(annotation) is Literal:
        return click.Choice([str(c) for c in typing.get_args(annotation)]), optional
    if annotation is Path:
        return click.Path(path_type=Path), optional
    return annotation, optional


def _docstring(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The summary (text before ``Args:``) and each argument's help line."""
    doc = inspect.getdoc(function) or ""
    summary, _, rest = doc.partition("\nArgs:\n")
    helps: dict[str, str] = {}
    current = None
    for line in ("\n" + rest).splitlines():
        match = (
            _ARG.match("    " + line)
            if line.startswith("    ") and not line.startswith("        ")
            else None
        )
        if match:
            current = match[1]
            helps[current] = match[2]
        elif current and line.strip():
            helps[current] += " " + line.strip()
        elif not line.strip():
            current = None
    return summary.strip(), helps
