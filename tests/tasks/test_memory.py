"""The memory task: seeded generators, their baselines, the network, and a run end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.config import ConfigError, resolve
from rnnkit.data.datasets.memory import (
    adding_baseline,
    adding_problem,
    copying_baseline,
    copying_problem,
)
from rnnkit.tasks import get_task
from rnnkit.tasks.memory import MemoryModel, MemoryNetwork, steps_to_solve
from rnnkit.train import evaluate_run, load_run
from support.cli import rnnkit


@pytest.mark.parametrize("make", [adding_problem, copying_problem])
def test_generators_are_deterministic_per_seed(make):
    first, again, other = make(50, 30, seed=4), make(50, 30, seed=4), make(50, 30, seed=5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_adding_sequences_mark_one_number_in_each_half():
    T = 40
    x, y = adding_problem(500, T, seed=0)
    assert x.shape == (500, T, 2) and y.shape == (500,) and x.dtype == y.dtype == np.float32
    assert ((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all()
    marks = x[:, :, 1]
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert (marks[:, : T // 2].sum(1) == 1).all() and (marks[:, T // 2 :].sum(1) == 1).all()
    np.testing.assert_allclose(y, (x[:, :, 0] * marks).sum(1), rtol=1e-6)


def test_copying_sequences_hold_symbols_blanks_and_the_delimiter():
    T = 25
    x, y = copying_problem(300, T, seed=0)
    assert x.shape == y.shape == (300, T + 20) and x.dtype == np.uint8
    assert ((x[:, :10] >= 1) & (x[:, :10] <= 8)).all()
    assert (x[:, 10 : T + 9] == 0).all() and (x[:, T + 9] == 9).all()
    assert (x[:, T + 10 :] == 0).all()
    assert (y[:, : T + 10] == 0).all()
    np.testing.assert_array_equal(y[:, -10:], x[:, :10])
    assert len(np.unique(x[:, :10])) == 8  # every symbol 1-8 is drawn


@pytest.mark.parametrize("T", [10, 100, 500])
def test_copying_baseline_is_the_memoryless_cross_entropy(T):
    _, y = copying_problem(64, T, seed=1)
    # blank everywhere, a uniform guess over the 8 symbols for the last 10 steps
    logits = torch.full((64, T + 20, 9), -1e9, dtype=torch.float64)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:] = 0.0
    loss = F.cross_entropy(logits.transpose(1, 2), torch.from_numpy(y).long())
    assert float(loss) == pytest.approx(copying_baseline(T), rel=1e-12)
    assert copying_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-15)


def test_adding_baseline_is_the_mse_of_predicting_the_mean():
    _, y = adding_problem(200_000, 50, seed=2)
    mse = float(((y.astype(np.float64) - 1.0) ** 2).mean())
    # Var(u1 + u2) = 1/6; the squared error's std is 0.197, so 4 standard errors ~ 0.0018
    assert mse == pytest.approx(1 / 6, abs=0.002)
    assert adding_baseline() == pytest.approx(0.1667, abs=1e-4)


def test_generators_refuse_impossible_lengths():
    with pytest.raises(ValueError, match="length >= 2"):
        adding_problem(3, 1, seed=0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        copying_problem(0, 5, seed=0)


def test_load_data_is_seeded_and_sized():
    task = get_task("memory")
    flags = {"data.length": "12", "data.train_size": "40", "data.val_size": "8",
             "data.test_size": "6", "data.problem": "copying"}  # fmt: skip
    config = resolve(task.config_class, flags=flags)
    data, again = task.load_data(config), task.load_data(config)
    assert (len(data.train), len(data.val), len(data.test)) == (40, 8, 6)
    assert torch.equal(data.train.tensors["x"], again.train.tensors["x"])
    assert not torch.equal(data.train.tensors["x"][:6], data.test.tensors["x"])
    assert data.state == {"problem": "copying", "length": 12, "baseline": copying_baseline(12)}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_network_shapes_and_glorot_initialisation(cell):
    torch.manual_seed(0)
    adding = MemoryNetwork("adding", MemoryModel(cell=cell, hidden_size=16, recurrent_gain=2.0))
    assert adding(torch.rand(3, 9, 2)).shape == (3,)
    copying = MemoryNetwork("copying", MemoryModel(cell=cell, hidden_size=16))
    assert copying(torch.randint(0, 10, (3, 9), dtype=torch.uint8)).shape == (3, 9, 9)
    rnn = adding.rnn
    a = math.sqrt(6 / 32)  # a 16 x 16 gate block of W_hh, then the gain of 2
    assert rnn.weight_hh_l0.abs().max() <= 2 * a and rnn.weight_hh_l0.abs().max() > 1.8 * a
    forget = rnn.bias_ih_l0[16:32] if cell == "lstm" else None
    biases = torch.cat([rnn.bias_ih_l0, rnn.bias_hh_l0])
    if cell == "lstm":
        assert (forget == 1).all() and biases.abs().sum() == 16
    else:
        assert (biases == 0).all()


def test_steps_to_solve_waits_for_the_window_mean():
    losses = [1.0] * 5 + [0.0] * 5
    assert steps_to_solve(losses, 0.5, window=4) == 8  # mean of steps 5-8 is 0.25
    assert steps_to_solve(losses, 0.5, window=10) is None  # the mean of all 10 is 0.5
    assert steps_to_solve([0.1], 0.5, window=2) is None


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("memory") / "run"
    done = rnnkit("memory", "train", "--problem", "adding", "--length", "8", "--cell", "gru",
                  "--model.hidden_size", "16", "--data.train_size", "1200",
                  "--data.val_size", "200", "--data.test_size", "200", "--epochs", "3",
                  "--optim.lr", "0.01", "--train.progress", "false", "--out", out)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return out, done.stdout


def test_train_learns_and_reports_steps_to_solve(adding_run):
    out, stdout = adding_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["relative_loss"] < 0.5  # the baseline is 1; chance does not do this
    assert f"test: loss {metrics['test']['loss']:.4f}, relative_loss " in stdout
    summary = json.loads((out / "memory.json").read_text())
    assert summary["baseline"] == pytest.approx(1 / 6) and summary["steps"] == 180
    rows = (out / "steps.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[2]) for r in rows]
    assert summary["steps_to_solve"] == steps_to_solve(losses, summary["threshold"])
    task = get_task("memory")
    loaded = load_run(task, out)
    again, _ = evaluate_run(loaded, task.load_data(loaded.config).test, progress=False)
    assert again["loss"] == pytest.approx(metrics["test"]["loss"])


def test_bad_setting_names_the_field():
    # the CLI turns a ConfigError into one "Error:" line (tests/cli/test_cli.py)
    with pytest.raises(ConfigError, match="length"):
        resolve(get_task("memory").config_class, flags={"data.length": "1"})
