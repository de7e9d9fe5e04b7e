"""Every Python snippet in README.md and docs/ runs as written.

The snippets of one page run in order in one fresh interpreter (a later snippet may use what an
earlier one defined), in an empty folder, with ``RNNKIT_DATA`` pointing at the shared data sets.
Shell snippets are commands; the CLI tests run them in their tested forms.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if snippets(p)], ids=lambda p: p.name)
def test_python_snippets_run_as_written(page, tmp_path, shared_datasets):
    code = "\n".join(snippets(page))
    env = {**os.environ, "RNNKIT_DATA": str(shared_datasets), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
