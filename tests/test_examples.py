"""Every script in ``examples/`` runs as a user runs it (a subprocess) and says what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# what each example must print: its result, not just "no crash"
PROMISES = {
    "forecast_airline.py": [
        "airline passengers, test months 1959-1960",
        "seasonal naive on test MAE",
    ],
    "lm_tiny_corpus.py": ["training perplexity:", "This is the"],
}


def test_every_example_has_a_test():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(PROMISES)


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_example_runs(name, shared_datasets):
    env = {**os.environ, "RNNKIT_DATA": str(shared_datasets), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for promise in PROMISES[name]:
        assert promise in done.stdout, done.stdout[-2000:]
