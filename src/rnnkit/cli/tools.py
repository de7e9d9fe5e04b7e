"""Commands that work on any task's runs, beside the tasks: ``rnnkit NAME [options]``.

Each entry names a plain typed function (its docstring is the help; see :mod:`.typed`),
imported only when the command is used. To add one, write the function and one line below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    """A command beside the tasks: ``rnnkit NAME``, the function that runs it, one line of help."""

    name: str
    summary: str
    function: str  # "package.module:function"


TOOLS: dict[str, Tool] = {}


def add_tool(tool: Tool) -> None:
    """Add a command (names are unique, and never a task's name)."""
    if tool.name in TOOLS:
        raise ValueError(f"command {tool.name!r} is already registered")
    TOOLS[tool.name] = tool


add_tool(
    Tool(
        "diagnose",
        "Gradients through time, Jacobian norms, W_hh spectra, clipping: any task's run.",
        "rnnkit.diagnose.command:diagnose",
    )
)


add_tool(Tool("export", "Export a run's model as ONNX or TorchScript.", "rnnkit.export:export"))
add_tool(Tool("serve", "Serve a run's model over HTTP, with batching.", "rnnkit.serve:serve"))
