"""A run killed (SIGKILL) at the worst moments loses nothing that was complete.

Each case runs the command in a subprocess whose file operations are wrapped so that the
process kills itself at one exact point: between writing a checkpoint's files and swapping it
in, between the two renames of the swap, while ``metrics.json`` is written, and in the middle of
a resumed run. Afterwards the previous checkpoint and the last good metrics load, and ``--resume``
continues to the same per-epoch losses as a run that was never interrupted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from rnnkit.train import RunDir, load_checkpoint
from support.cli import rnnkit

# a constant learning rate: a run of 3 epochs is then the first 3 epochs of a run of 4
ARGS = ["classify", "train", "--dataset", "digits", "--model.hidden_size", "16", "-q",
        "--optim.schedule", "none", "--optim.warmup_epochs", "0"]  # fmt: skip

# Runs the command with one function wrapped ("module:attribute", or "module:Class.method"): on
# its CALL-th use with an argument whose text holds NAME, the process kills itself (SIGKILL).
PROGRAM = """
import importlib, os, signal, sys
target, name, call = sys.argv[1], sys.argv[2], int(sys.argv[3])
module_name, _, attribute = target.partition(":")
owner = importlib.import_module(module_name)
*path, last = attribute.split(".")
for part in path:
    owner = getattr(owner, part)
real = getattr(owner, last)
seen = [0]

def wrapped(*args, **kwargs):
    if any(name in str(a) for a in args):
        seen[0] += 1
        if seen[0] == call:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(owner, last, wrapped)
from rnnkit.cli.main import main
main(sys.argv[4:])
"""


def killed(target: str, name: str, call: int, *args) -> subprocess.CompletedProcess:
    """The command ``args``, killed at the ``call``-th use of ``target`` on a path with ``name``."""
    command = [sys.executable, "-c", PROGRAM, target, name, str(call), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def losses(run) -> list[tuple[float, float]]:
    return [(r["train_loss"], r["val_loss"]) for r in RunDir(run).read_log()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted: 4 epochs."""
    out = tmp_path_factory.mktemp("ref") / "run"
    done = rnnkit(*ARGS, "--epochs", "4", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


# save_checkpoint writes into .NAME.tmp, then renames NAME -> .NAME.old and .NAME.tmp -> NAME.
CASES = {
    # epoch 1's 'last': its files written, its checkpoint.json not yet, nothing swapped in
    "while-writing-a-checkpoint": ("rnnkit.train.checkpoint:_write_json", "last.tmp/checkpoint", 2),
    # epoch 1's 'last': the old one moved aside to .last.old, the new one not yet in place
    "between-the-two-renames": ("os:rename", ".last.tmp", 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_killed_during_a_checkpoint_save(tmp_path, reference, case):
    run = tmp_path / "run"
    done = killed(*CASES[case], *ARGS, "--epochs", "4", "--out", run)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    last = load_checkpoint(run, prefer="last")
    assert last.info["epoch"] == 0  # epoch 0's checkpoint: the last complete one
    resumed = rnnkit("classify", "train", "--resume", run, "-q")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert losses(run) == losses(reference)
    assert not list((run / "checkpoints").glob(".*"))  # no half-written leftovers


def test_killed_while_writing_metrics_keeps_the_last_good_ones(tmp_path, reference):
    run = tmp_path / "run"
    first = rnnkit(*ARGS, "--epochs", "3", "--out", run)
    assert first.returncode == 0, first.stderr
    good = (run / "metrics.json").read_text()
    # the resumed run's new metrics written to .metrics.json.tmp, not yet moved into place
    done = killed("pathlib:Path.replace", "metrics.json", 1,
                  "classify", "train", "--resume", run, "--epochs", "4", "-q")  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert (run / ".metrics.json.tmp").is_file()  # the kill came after the new file was written
    assert (run / "metrics.json").read_text() == good  # the last good metrics, whole
    assert json.loads(good)["epochs"] == 3
    resumed = rnnkit("classify", "train", "--resume", run, "--epochs", "4", "-q")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert losses(run) == losses(reference)
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 4


def test_killed_in_the_middle_of_a_resumed_run(tmp_path, reference):
    run = tmp_path / "run"
    first = rnnkit(*ARGS, "--epochs", "2", "--out", run)
    assert first.returncode == 0, first.stderr
    # the resumed run dies as it writes its first checkpoint (epoch 2's), before swapping it in
    done = killed("rnnkit.train.checkpoint:_write_json", "last.tmp/checkpoint", 1,
                  "classify", "train", "--resume", run, "--epochs", "4", "-q")  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert load_checkpoint(run, prefer="last").info["epoch"] == 1
    resumed = rnnkit("classify", "train", "--resume", run, "--epochs", "4", "-q")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert losses(run) == losses(reference)
