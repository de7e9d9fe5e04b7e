"""``rnnkit diagnose`` as a user runs it: a subprocess on real runs, its files, its errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rnnkit.config import ConfigError, resolve
from rnnkit.diagnose.command import diagnose
from rnnkit.tasks import TASKS, get_task
from rnnkit.train import fit
from support.cli import one_clean_error, rnnkit

FAST = ["--batch", "4", "--samples", "2", "--points", "4", "--iterations", "5"]
FIGURES = ["gradients_through_time.png", "jacobian_norms.png", "recurrent_spectrum.png"]
QUIET = ["--train.progress", "false", "--train.eval_train", "false", "-q"]


def _memory_run(out, **flags):
    task = get_task("memory")
    small = {"data.length": 6, "model.hidden_size": 8, "data.train_size": 60,
             "data.val_size": 8, "data.test_size": 8, "train.epochs": 1,
             "train.progress": False, "train.eval_train": False}  # fmt: skip
    fit(task, resolve(task.config_class, flags={**small, **flags}), out)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diagnose")
    clipped = _memory_run(folder / "clipped", **{"model.cell": "rnn", "optim.clip_value": 0,
                                                 "optim.clip_norm": 0.5})  # fmt: skip
    plain = _memory_run(folder / "plain", **{"model.cell": "lstm", "data.problem": "copying"})
    return clipped, plain


def test_diagnose_writes_its_figures_and_tables_into_the_run(runs):
    clipped, plain = runs
    done = rnnkit("diagnose", "--run", clipped, "--compare", plain, *FAST)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in [*FIGURES, "training_dynamics.png", "diagnose.json"]:
        assert (clipped / name).stat().st_size > 0, name
    report = json.loads((clipped / "diagnose.json").read_text())
    states = [(a["run"], a["state"]) for a in report["analyses"]]
    assert states == [("clipped", "initial"), ("clipped", "trained"),
                      ("plain", "initial"), ("plain", "trained")]  # fmt: skip
    first = report["analyses"][0]["series"][0]
    assert first["label"] == "rnn:rnn l0 fwd" and len(first["grad_norms"]) == 6
    assert first["lags"][0] == 0 and first["sigma_mean"][0] == pytest.approx(1.0)
    copying = report["analyses"][2]["series"][0]
    assert copying["label"] == "rnn:lstm l0 fwd" and len(copying["grad_norms"]) == 26
    steps = list(csv.DictReader((clipped / "steps.csv").open()))
    norms = np.array([float(r["grad_norm"]) for r in steps])
    dynamics = report["dynamics"]["clipped"]
    assert dynamics["steps"] == len(steps) == 3
    assert dynamics["fraction_clipped"] == pytest.approx(float((norms > 0.5).mean()))
    assert report["dynamics"]["plain"]["fraction_clipped"] is None  # clip_value: not knowable
    with (clipped / "gradients_through_time.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 6 + 2 * 26
    assert "clipped (initial): loss " in done.stdout and "||dh_T/dh_t||_2" in done.stdout


def test_diagnose_a_fresh_model_of_a_task(tmp_path):
    (tmp_path / "gru.yaml").write_text(
        "data: {length: 5, train_size: 4, val_size: 4, test_size: 4}\n"
        "model: {cell: gru, hidden_size: 6, num_layers: 2}\n"
    )
    printed = diagnose(task="memory", config=tmp_path / "gru.yaml", out=tmp_path / "out",
                       batch=4, samples=2, points=4, iterations=5)  # fmt: skip
    assert "memory (initial): loss " in printed
    report = json.loads((tmp_path / "out" / "diagnose.json").read_text())
    (analysis,) = report["analyses"]
    assert analysis["state"] == "initial"
    assert [s["label"] for s in analysis["series"]] == ["rnn:gru l0 fwd", "rnn:gru l1 fwd"]
    assert not (tmp_path / "out" / "training_dynamics.png").exists()


def test_diagnose_errors_are_one_line(tmp_path):
    line = one_clean_error(rnnkit("diagnose", "--run", tmp_path / "nothing"), 1)
    assert "nothing" in line
    with pytest.raises(ConfigError, match="give either --run DIR or --task NAME"):
        diagnose()
    with pytest.raises(ConfigError, match="--batch must be >= 1"):
        diagnose(task="memory", out=tmp_path, batch=0)
    with pytest.raises(ConfigError, match="--task needs --out"):
        diagnose(task="memory")


# ---------------------------------------------------------------- every task family (slow)
def _train_command(family, tmp_path):
    """A small training command for each task family, on files written here."""
    rng = np.random.default_rng(0)
    if family == "classify":
        return ["classify", "train", "--dataset", "digits", "--model.hidden_size", "8"]
    if family == "lm":
        text = tmp_path / "text.txt"
        text.write_text("to be or not to be, that is the question.\n" * 40)
        return ["lm", "train", "--files", text, "--model.hidden_size", "16",
                "--model.embedding_size", "8", "--data.seq_len", "16",
                "--train.batch_size", "4"]  # fmt: skip
    if family in ("forecast", "anomaly"):
        series = tmp_path / "series.csv"
        t = np.arange(400)
        values = np.sin(t / 6) + 0.1 * rng.normal(size=len(t))
        stamps = np.datetime64("2024-01-01T00:00") + t.astype("timedelta64[h]")
        lines = ["timestamp,value"] + [f"{s},{v:.4f}" for s, v in zip(stamps, values)]
        series.write_text("\n".join(lines) + "\n")
        if family == "forecast":
            return ["forecast", "train", "--csv", series, "--target", "value",
                    "--data.time_column", "timestamp", "--lookback", "16", "--horizon", "4",
                    "--model.hidden_size", "8"]  # fmt: skip
        return ["anomaly", "train", "--data", series, "--model.hidden_size", "8",
                "--model.window", "16"]  # fmt: skip
    if family == "tag":
        lines = []
        for _ in range(60):
            words = rng.choice(["the", "cat", "sat", "on", "a", "mat", "dog", "ran"], size=5)
            lines += [f"{w}\t{'NOUN' if w in ('cat', 'mat', 'dog') else 'X'}" for w in words]
            lines.append("")
        (tmp_path / "tags.tsv").write_text("\n".join(lines) + "\n")
        return ["tag", "train", "--data.train", tmp_path / "tags.tsv", "--data.validation",
                tmp_path / "tags.tsv", "--data.format", "columns"]  # fmt: skip
    if family == "text":
        words = ["good", "great", "fine", "bad", "awful", "poor", "the", "film", "was", "a"]
        rows = ["text,label"]
        for i in range(80):
            label = i % 2
            picks = rng.choice(words[:3] if label else words[3:6], size=2).tolist()
            rows.append(" ".join(picks + rng.choice(words[6:], size=6).tolist()) + f",{label}")
        (tmp_path / "docs.csv").write_text("\n".join(rows) + "\n")
        return ["text", "train", "--data.path", tmp_path / "docs.csv", "--model.hidden_size", "8",
                "--model.embedding_size", "8", "--report.baselines", "false"]  # fmt: skip
    if family == "translate":
        return ["translate", "train", "--data.dataset", "copy", "--data.pairs", "200",
                "--data.valid_sentences", "20", "--data.test_sentences", "20",
                "--data.vocab_size", "40", "--model.embedding_size", "8",
                "--model.hidden_size", "8", "--model.decoder_size", "8",
                "--model.attention_size", "8"]  # fmt: skip
    if family == "video":
        clips = tmp_path / "clips.npz"
        np.savez(clips, x_train=rng.random((24, 4, 1, 8, 8), dtype=np.float32),
                 y_train=np.arange(24) % 2)  # fmt: skip
        return ["video", "train", "--data.mode", "clips", "--data.path", clips,
                "--model.patch", "2", "--model.hidden_channels", "4",
                "--model.num_layers", "1"]  # fmt: skip
    assert family == "memory", f"no small run written for task {family!r}"
    return ["memory", "train", "--length", "10", "--data.train_size", "200",
            "--data.val_size", "20", "--data.test_size", "20"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(TASKS))
def test_diagnose_works_on_a_run_of_every_task_family(family, tmp_path):
    run = tmp_path / "run"
    command = _train_command(family, tmp_path)
    done = rnnkit(*command, "--epochs", "1", "--train.progress", "false", "--out", run, "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    done = rnnkit("diagnose", "--run", run, *FAST)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((run / "diagnose.json").read_text())
    # convolutional and minimal cells have no W_hh matrix, so no spectrum to plot
    with_w_hh = any(analysis["spectra"] for analysis in report["analyses"])
    assert with_w_hh == (family != "video")
    assert (run / "recurrent_spectrum.png").exists() == with_w_hh
    for name in [*FIGURES[:2], "training_dynamics.png"]:
        assert (run / name).stat().st_size > 0, name
    for analysis in report["analyses"]:
        series = analysis["series"]
        assert series and all(np.isfinite(s["grad_norms"]).all() for s in series)
        assert any(max(s["grad_norms"]) > 0 for s in series)
