"""``rnnkit lm train | evaluate | generate`` as a user runs them: real subprocesses (the refusal
of an unknown prompt character runs in this process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rnnkit.cli.main import cli

RNNKIT = str(Path(sys.executable).parent / "rnnkit")
SMALL = [
    "--model.embedding_size", "16", "--model.hidden_size", "32", "--model.dropout", "0",
    "--train.batch_size", "8", "--data.seq_len", "32", "--train.epochs", "1",
    "--train.progress", "false", "--train.eval_train", "false",
]  # fmt: skip


def rnnkit(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    return subprocess.run(
        [RNNKIT, "lm", *map(str, args)], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lmcli")
    corpus = folder / "lines.txt"
    corpus.write_text(
        "ROMEO: good night, good night!\nJULIET: parting is such sweet sorrow.\n" * 60
    )
    done = rnnkit("train", "--files", corpus, "--out", folder / "run", *SMALL)
    assert done.returncode == 0, done.stderr
    assert "validation: loss" in done.stdout and "bits_per_char" in done.stdout
    return folder / "run", corpus


def test_generate_is_repeatable_with_a_seed(cli_run):
    run, _ = cli_run
    args = ("generate", "--run", run, "--prompt", "ROMEO:", "--length", "80", "--seed", "3")
    first, second = rnnkit(*args, "--top-k", "5"), rnnkit(*args, "--top-k", "5")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("ROMEO:")
    assert len(first.stdout) == len("ROMEO:") + 80 + 1  # the text and print's newline


def test_unknown_prompt_characters_get_a_clear_message(cli_run):
    run, _ = cli_run  # in this process: no interpreter start-up for a refusal
    args = ["lm", "generate", "--run", str(run), "--prompt", "ROMEO Ω", "--length", "5"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1
    assert "never saw in training: 'Ω' (U+03A9)" in done.stderr
    assert isinstance(done.exception, SystemExit)  # a handled error, not a crash
    assert "Traceback" not in done.output


def test_evaluate_prints_bits_per_char(cli_run, tmp_path):
    run, corpus = cli_run
    done = rnnkit("evaluate", "--run", run, "--data", corpus)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout[done.stdout.index("{") :])
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / 0.6931471805599453)


@pytest.mark.slow  # the message itself is checked in-process in test_lm_task.py
def test_empty_file_is_refused_naming_it(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    done = rnnkit("train", "--files", tmp_path / "empty.txt", "--out", tmp_path / "run", *SMALL)
    assert done.returncode == 1
    assert "empty.txt: the file is empty" in done.stderr and "Traceback" not in done.stderr
