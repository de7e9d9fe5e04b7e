"""The classify task's image and audio inputs: MNIST as rows/pixels/permuted pixels, the CNN+RNN
front end, spoken digits, presets, and predictions on PNG/NPY/WAV files."""

from __future__ import annotations

import csv
import io
import json
import tarfile

import numpy as np
import pytest
import scipy.io.wavfile
import torch
from PIL import Image

from rnnkit.cli.main import main as rnnkit_main
from rnnkit.config import resolve
from rnnkit.data.scaling import scaler_from_state
from rnnkit.tasks import get_task
from rnnkit.tasks.classify import ConvColumns, EncoderConfig, SequenceClassifier
from rnnkit.train import fit, load_run, predict_run

from ..data.test_idx import write_idx

TINY = {"model.hidden_size": "8", "train.progress": "false", "train.eval_train": "false"}


def _idx_folder(path, n_train=240, n_test=60, size=(12, 10), seed=0):
    """Three classes of noisy images, told apart by which third of the rows is bright."""
    rng = np.random.default_rng(seed)
    path.mkdir()
    for name, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 3, n)
        images = rng.integers(0, 60, (n, *size))
        band = size[0] // 3
        for i, k in enumerate(labels):
            images[i, k * band : (k + 1) * band] += 150
        write_idx(path / f"{name}-images-idx3-ubyte.gz", images)
        write_idx(path / f"{name}-labels-idx1-ubyte.gz", labels)
    return path


def _cli(*args):
    with pytest.raises(SystemExit) as exit_info:
        rnnkit_main(["classify", *map(str, args)])
    return exit_info.value.code


@pytest.mark.parametrize(
    ("mode", "steps", "features"), [("rows", 28, 28), ("pixels", 784, 1), ("permuted", 784, 1)]
)
def test_real_mnist_modes_end_to_end_on_a_subset(shared_datasets, tmp_path, mode, steps, features):
    task = get_task("classify")
    flags = {
        **TINY,
        "data.dataset": "mnist",
        "data.data_dir": str(shared_datasets / "mnist"),
        "data.mode": mode,
        "data.limit": "200",
        "train.epochs": "1",
        "train.batch_size": "50",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    confusion = np.array(metrics["test"]["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 200  # the limited test split
    assert metrics["test"]["accuracy"] == pytest.approx(np.trace(confusion) / 200)
    assert (tmp_path / "run" / "confusion_test.png").is_file()
    loaded = load_run(task, result.run_dir)
    assert loaded.state["kind"] == "image" and loaded.state["num_features"] == features
    assert task.load_data(loaded.config).test.tensors["x"].shape == (200, steps, features)


def test_permuted_mode_is_the_pixel_sequence_under_a_fixed_permutation(tmp_path):
    folder = _idx_folder(tmp_path / "idx")
    task = get_task("classify")

    def test_x(mode, seed="0"):
        flags = {"data.dataset": "mnist", "data.data_dir": str(folder), "data.mode": mode}
        config = resolve(task.config_class, flags={**flags, "data.permutation_seed": seed})
        data = task.load_data(config)
        scaler = scaler_from_state(data.state["scaler"])
        return scaler.inverse_transform(data.test.tensors["x"].numpy()), data.state

    pixels, _ = test_x("pixels")
    permuted, state = test_x("permuted")
    order = np.random.default_rng(0).permutation(120)
    np.testing.assert_allclose(permuted, pixels[:, order], atol=1e-5)
    assert state["mode"] == "permuted" and state["permutation_seed"] == 0
    assert not np.allclose(test_x("permuted", "1")[0], permuted)


def test_conv_columns_shapes_and_refusals():
    front = ConvColumns(28, 28, channels=4, blocks=2)
    assert front(torch.randn(3, 28, 28)).shape == (3, 7, 8 * 7)  # (N, W', K*H')
    model = SequenceClassifier(28, 10, EncoderConfig(frontend="cnn", hidden_size=5), (28, 28))
    assert model(torch.randn(2, 28, 28), torch.tensor([28, 28])).shape == (2, 10)
    with pytest.raises(ValueError, match="pools the image down to nothing"):
        ConvColumns(6, 6, channels=2, blocks=3)
    with pytest.raises(ValueError, match="frontend=cnn needs images"):
        SequenceClassifier(1, 10, EncoderConfig(frontend="cnn"))
    task = get_task("classify")
    config = resolve(
        task.config_class,
        flags={"data.dataset": "mnist", "data.mode": "pixels", "model.frontend": "cnn"},
    )
    with pytest.raises(ValueError, match="use --dataset mnist with --data.mode rows"):
        task.load_data(config)


def test_cnn_rnn_learns_and_predicts_png_npy_and_folders(tmp_path):
    folder = _idx_folder(tmp_path / "idx")
    task = get_task("classify")
    flags = {
        **TINY,
        "data.dataset": "mnist",
        "data.data_dir": str(folder),
        "model.frontend": "cnn",
        "model.conv_channels": "4",
        "train.epochs": "6",
        "train.batch_size": "16",
        "optim.lr": "0.01",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    assert result.metrics["test"]["accuracy"] >= 0.9
    # the same test images through files: PNG (uint8), NPY stack, a folder of both
    from rnnkit.data.datasets.mnist import load_idx_dir

    images, _ = load_idx_dir(folder, "test")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.fromarray(images[0].astype(np.uint8)).save(inputs / "first.png")
    np.save(inputs / "more.npy", images[1:3])
    assert _cli("predict", "--run", result.run_dir, "--input", inputs) == 0
    rows = list(csv.DictReader((result.run_dir / "predictions.csv").open()))
    assert [r["name"] for r in rows] == ["first.png", "more.npy[0]", "more.npy[1]"]
    loaded = load_run(task, result.run_dir)
    expected = predict_run(loaded, task.load_data(loaded.config).test)["probs"][:3]
    got = np.array([[float(r[f"p_{c}"]) for c in (0, 1, 2)] for r in rows])
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    # one file alone
    out = tmp_path / "one.csv"
    code = _cli(
        "predict", "--run", result.run_dir, "--input", inputs / "first.png", "--output", out
    )
    assert code == 0 and len(out.read_text().splitlines()) == 2


def test_presets_sit_under_yaml_and_flags(tmp_path, capsys):
    assert _cli("config", "--preset", "tutorial-mnist", "--train.epochs", "7") == 0
    shown = capsys.readouterr().out
    for line in ("dataset: mnist", "num_layers: 2", "hidden_size: 128", "lr: 0.001"):
        assert line in shown
    assert "batch_size: 100" in shown and "epochs: 7" in shown  # the flag wins
    (tmp_path / "c.yaml").write_text("optim:\n  lr: 0.005\n")
    assert _cli("config", "--preset", "tutorial-mnist", "--config", tmp_path / "c.yaml") == 0
    shown = capsys.readouterr().out
    assert "lr: 0.005" in shown and "epochs: 5" in shown
    assert _cli("config", "--preset", "tutorial-mnist", "--data-dir", tmp_path) == 0
    assert f"data_dir: {tmp_path}" in capsys.readouterr().out  # the short form --data-dir
    assert _cli("config", "--preset", "tutorial-mnst") == 2
    message = "unknown preset 'tutorial-mnst' — did you mean 'tutorial-mnist'?"
    assert message in capsys.readouterr().err
    task = get_task("classify")
    for values in task.presets.values():  # every preset builds a valid configuration
        resolve(task.config_class, flags={k: str(v) for k, v in values.items()})


def test_spoken_digits_train_on_frames_of_varying_length_and_predict_wavs(
    shared_datasets, tmp_path
):
    task = get_task("classify")
    flags = {
        **TINY,
        "data.dataset": "fsdd",
        "data.data_dir": str(shared_datasets / "fsdd"),
        "data.limit": "120",
        "train.epochs": "1",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    loaded = load_run(task, result.run_dir)
    assert loaded.state["kind"] == "audio" and loaded.state["num_features"] == 20
    assert np.array(result.metrics["test"]["confusion"]).sum() == 120
    lengths = task.load_data(loaded.config).train.tensors["lengths"]
    assert lengths.min() < lengths.max()  # recordings differ in length
    # two recordings as WAV files, one resampled to 16 kHz: both are read at the training rate
    with tarfile.open(shared_datasets / "fsdd" / "fsdd_recordings.tar.gz") as tar:
        member = next(m for m in tar if m.name.endswith("3_jackson_0.wav"))
        raw = tar.extractfile(member).read()
    rate, samples = scipy.io.wavfile.read(io.BytesIO(raw))
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    (wavs / "a_8k.wav").write_bytes(raw)
    scipy.io.wavfile.write(wavs / "b_16k.wav", 16000, np.repeat(samples, 2))
    assert _cli("predict", "--run", result.run_dir, "--input", wavs) == 0
    rows = list(csv.DictReader((result.run_dir / "predictions.csv").open()))
    assert [r["name"] for r in rows] == ["a_8k.wav", "b_16k.wav"]
    assert rate == 8000
