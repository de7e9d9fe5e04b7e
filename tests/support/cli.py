"""Running the ``rnnkit`` command as a user does: in a subprocess, output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "rnnkit"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "rnnkit"]


def rnnkit(*args, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``rnnkit ARGS...`` in a subprocess; returns the completed process (text output)."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def one_clean_error(done: subprocess.CompletedProcess, code: int) -> str:
    """Assert the command failed with ``code``, one ``Error:`` line and no traceback; return it."""
    assert done.returncode == code, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]
