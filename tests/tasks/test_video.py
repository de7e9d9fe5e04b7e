"""The video task: its metrics against oracles, its models' shapes, and runs through the CLI.

The runs are tiny (one epoch, a few clips, 4 channels) and only check the plumbing: that the
generated and file data reach the model, that the reported baselines equal the ones computed
here from the same clips, and that bad input gets one clear error line. The commands run in
this process (click's runner: the same code as the console command, without a new interpreter
per call); one bad-input case also runs as a real subprocess, to see exactly what a user sees.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner, Result

from rnnkit.cli.main import cli
from rnnkit.config import ConfigError, resolve
from rnnkit.data import DataError
from rnnkit.tasks import get_task
from rnnkit.tasks.video import EncoderForecaster, VideoModel
from rnnkit.tasks.video.frame_metrics import absolute_error, squared_error, ssim, summarise
from rnnkit.tasks.video.model import build, clip_probabilities
from rnnkit.train import evaluate_run, fit, load_run
from support.cli import one_clean_error, rnnkit


# ---------------------------------------------------------------------------------- metrics
def test_ssim_equals_scikit_image():
    skimage = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 1, 16, 20, generator=g)
    true = (pred + 0.2 * torch.randn(pred.shape, generator=g)).clamp(0, 1)
    ours = ssim(pred, true)
    for n in range(2):
        for t in range(3):
            want = skimage.structural_similarity(
                pred[n, t, 0].double().numpy(), true[n, t, 0].double().numpy(), data_range=1.0
            )
            assert abs(float(ours[n, t]) - want) < 1e-6


def test_errors_are_summed_per_frame_and_averaged():
    pred = torch.zeros(2, 2, 1, 3, 3)
    true = torch.zeros(2, 2, 1, 3, 3)
    true[0, 0, 0, 0, 0], true[1, 1, 0, 2, 2] = 1.0, 0.5  # one lit pixel in two frames
    assert squared_error(pred, true).tolist() == [[1.0, 0.0], [0.0, 0.25]]
    assert absolute_error(pred, true).tolist() == [[1.0, 0.0], [0.0, 0.5]]
    names = [f"{m}_{k}" for m in ("model", "copy_last", "zeros") for k in ("mse", "mae", "ssim")]
    outputs = {name: torch.tensor([[1.0, 0.0], [0.0, 0.25]]) for name in names}
    found = summarise(outputs)
    assert found["mse"] == pytest.approx(0.3125) and found["mse_per_frame"] == [0.5, 0.125]


def test_clip_probabilities_average_real_frames_only():
    logits = torch.zeros(1, 3, 2)
    logits[0, 0, 0], logits[0, 2, 1] = 10.0, 50.0  # frame 2 is padding
    probs = clip_probabilities(logits, torch.tensor([2]))
    expected = (torch.softmax(logits[0, 0], 0) + torch.tensor([0.5, 0.5])) / 2
    torch.testing.assert_close(probs[0], expected)


# ----------------------------------------------------------------------------------- models
def test_encoder_forecaster_shapes_and_patch_check():
    config = VideoModel(hidden_channels=4, num_layers=2, patch=4)
    model = EncoderForecaster((1, 16, 12), 3, 5, config)
    assert model(torch.rand(2, 3, 1, 16, 12)).shape == (2, 5, 1, 16, 12)
    with pytest.raises(ConfigError, match="model.patch=5 must divide the frame size 16 x 12"):
        EncoderForecaster((1, 16, 12), 3, 5, VideoModel(patch=5))
    with pytest.raises(ConfigError, match="model.kind=cnn-rnn classifies clips"):
        build(VideoModel(kind="cnn-rnn"), "frames", (1, 16, 16), (3, 5))


@pytest.mark.parametrize("kind", ["conv", "cnn-rnn", "frame-cnn"])
def test_clip_classifiers_take_lengths(kind):
    model = build(VideoModel(kind=kind, hidden_channels=4, cnn_channels=4, hidden_size=8),
                  "clips", (1, 32, 32), (4,))  # fmt: skip
    model.eval()
    x = torch.rand(3, 5, 1, 32, 32)
    lengths = torch.tensor([5, 2, 3])
    full = clip_probabilities(model(x, lengths), lengths)
    alone = clip_probabilities(model(x[1:2, :2], lengths[1:2]), lengths[1:2])
    assert full.shape == (3, 4)
    torch.testing.assert_close(full[1], alone[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------- the command line
# tests/conftest.py's rule (conftest is not importable under --import-mode=importlib)
REPO = Path(__file__).resolve().parents[2]
SHARED_DATASETS = Path(os.environ.get("RNNKIT_SHARED", REPO.parent / "shared")) / "datasets"


def in_process(*args) -> Result:
    """``rnnkit ARGS...`` through click's runner in this process: exit code, stdout, stderr."""
    return CliRunner().invoke(cli, [*map(str, args)])


TINY = ["--model.hidden_channels", "4", "--model.num_layers", "1", "--train.epochs", "1",
        "--train.batch_size", "8", "--train.progress", "false"]  # fmt: skip


@pytest.fixture(scope="module")
def moving_run(tmp_path_factory):
    shared = SHARED_DATASETS
    if not (shared / "mnist").is_dir():
        pytest.skip(f"{shared / 'mnist'} not present")
    root = tmp_path_factory.mktemp("video")
    done = in_process("video", "train", "--data-dir", shared / "mnist", "--data.train_size", 16,
                      "--data.val_size", 8, "--data.test_size", 12, "--data.cache_dir",
                      root / "cache", *TINY, "--out", root / "run")  # fmt: skip
    assert done.exit_code == 0, done.output[-2000:]
    return root


def test_generated_run_reports_the_baselines_of_its_test_set(moving_run):
    metrics = json.loads((moving_run / "run" / "metrics.json").read_text())
    frames = np.load(moving_run / "cache" / "test-n12-seed2015.npz")["frames"] / 255.0
    copy = ((frames[:, 10:] - frames[:, 9:10]) ** 2).sum((2, 3)).mean()
    zeros = (frames[:, 10:] ** 2).sum((2, 3)).mean()
    test = metrics["test"]
    assert test["copy_last_mse"] == pytest.approx(copy, rel=1e-5)
    assert test["zeros_mse"] == pytest.approx(zeros, rel=1e-5)
    assert len(test["mse_per_frame"]) == 10 and "train" not in metrics
    for name in ("frames_test.png", "frames_test.gif", "per_frame_test.png", "loss.png"):
        assert (moving_run / "run" / name).stat().st_size > 1000


def test_evaluate_and_predict_a_clip_file(moving_run, tmp_path):
    """evaluate (the task's own functions) scores a user's clips; predict runs as the command."""
    frames = np.load(moving_run / "cache" / "test-n12-seed2015.npz")["frames"][:3]
    np.savez(tmp_path / "clips.npz", x=frames)
    run = load_run(get_task("video"), moving_run / "run")
    inputs = run.task.read_inputs(tmp_path / "clips.npz", run.config, run.state)
    metrics, _ = evaluate_run(run, inputs.source, "input", progress=False)
    copy = ((frames[:, 10:] / 255 - frames[:, 9:10] / 255) ** 2).sum((2, 3)).mean()
    assert metrics["copy_last_mse"] == pytest.approx(copy, rel=1e-5)
    np.save(tmp_path / "first.npy", frames[:, :10])  # predict needs the 10 input frames only
    out = tmp_path / "pred.npz"
    done = in_process("video", "predict", "--run", moving_run / "run", "--input",
                      tmp_path / "first.npy", "--output", out)  # fmt: skip
    assert done.exit_code == 0, done.output[-2000:]
    predicted = np.load(out)["frames"]
    assert predicted.shape == (3, 10, 1, 64, 64) and predicted.dtype == np.uint8
    with pytest.raises(DataError, match="scoring a prediction needs 10 to read and the 10"):
        evaluate_run(run, run.task.read_inputs(tmp_path / "first.npy", run.config, run.state)
                     .source, "input", progress=False)  # fmt: skip


def test_a_clip_file_of_another_frame_size_gets_one_error_line(moving_run, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 20, 32, 32), np.uint8))
    done = rnnkit("video", "predict", "--run", moving_run / "run", "--input", tmp_path / "bad.npy",
                  "--output", tmp_path / "out.npz")  # fmt: skip
    line = one_clean_error(done, 1)
    assert line == (f"Error: {tmp_path / 'bad.npy'}: x: frames are (C, H, W) = (1, 32, 32), the "
                    "model was trained on (1, 64, 64)")  # fmt: skip


@pytest.mark.parametrize(
    ("clips", "message"),
    [
        (np.full((2, 20, 64, 64), np.nan, np.float32), "NaN or infinite value at index"),
        (np.zeros((2, 64, 64), np.uint8), r"clips must be \(N, L, H, W\)"),
        (np.zeros((2, 4, 64, 64), np.uint8), "clip 0 has 4 frames; the model reads 10"),
        (np.zeros((0, 20, 64, 64), np.uint8), r"holds no clips \(N = 0\)"),
    ],
)
def test_bad_clip_files_name_the_file(moving_run, tmp_path, clips, message):
    run = load_run(get_task("video"), moving_run / "run")
    np.save(tmp_path / "bad.npy", clips)
    with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path / 'bad.npy'))}: x: {message}"):
        run.task.read_inputs(tmp_path / "bad.npy", run.config, run.state)


def test_clip_classification_from_a_file_runs_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(24, 4, 16, 16), dtype=np.uint8)
    y = np.array(["a", "b"] * 12)
    np.savez(tmp_path / "clips.npz", x_train=x[:16], y_train=y[:16], x_test=x[16:], y_test=y[16:])
    task = get_task("video")
    flags = {"data.mode": "clips", "data.path": str(tmp_path / "clips.npz"),
             "model.kind": "frame-cnn", "model.cnn_channels": 4, "train.epochs": 1,
             "train.batch_size": 8, "train.progress": False}  # fmt: skip
    result = fit(task, resolve(task.config_class, flags=flags), out=tmp_path / "run")
    assert sum(map(sum, result.metrics["test"]["confusion"])) == 8
    np.savez(tmp_path / "unknown.npz", x=x[:2], y=np.array(["a", "c"]))
    run = load_run(task, tmp_path / "run")
    with pytest.raises(DataError, match=r"labels \['c'\] are not among the classes \['a', 'b'\]"):
        task.read_inputs(tmp_path / "unknown.npz", run.config, run.state)


def test_config_prints_the_presets_settings():
    done = CliRunner().invoke(cli, ["video", "config", "--preset", "moving-mnist"])
    assert done.exit_code == 0, done.output
    config = yaml.safe_load(done.output)
    assert config["model"]["patch"] == 4 and config["train"]["monitor"] == "mse"
    assert config["data"]["mode"] == "frames" and config["train"]["threads"] == 1
