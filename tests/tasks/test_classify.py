"""The classify task: encoder pooling, data preparation, and a run end to end."""

import numpy as np
import pytest
import torch

from rnnkit.config import resolve
from rnnkit.tasks import get_task
from rnnkit.tasks.classify import EncoderConfig, SequenceEncoder
from rnnkit.train import fit, load_run, predict_run


@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_padding_does_not_change_the_encoding(pooling, cell):
    torch.manual_seed(0)
    encoder = SequenceEncoder(
        3, EncoderConfig(cell=cell, hidden_size=5, num_layers=2, pooling=pooling)
    ).eval()
    short = torch.randn(1, 4, 3)
    padded = torch.cat([short, torch.randn(1, 3, 3)], dim=1)  # garbage past the end
    batch = torch.cat([padded, torch.randn(1, 7, 3)])
    with torch.no_grad():
        alone = encoder(short, torch.tensor([4]))
        together = encoder(batch, torch.tensor([4, 7]))
    assert together.shape == (2, 10)
    torch.testing.assert_close(together[0], alone[0], rtol=1e-5, atol=1e-6)


def _npz(path, with_test=True, seed=0):
    """Two classes told apart by the sign of the mean: easy, variable lengths."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 2, n)
        seqs = np.empty(n, dtype=object)
        for i, label in enumerate(labels):
            seqs[i] = rng.normal(loc=1.0 if label else -1.0, size=(rng.integers(3, 9), 2))
        return seqs, labels

    arrays = dict(zip(("x_train", "y_train"), make(200)))
    if with_test:
        arrays.update(zip(("x_test", "y_test"), make(60)))
    np.savez(path, **arrays)
    return path


def test_load_data_carves_validation_and_scales_with_train_only(tmp_path):
    task = get_task("classify")
    config = resolve(
        task.config_class, flags={"data.path": str(_npz(tmp_path / "d.npz", with_test=False))}
    )
    data = task.load_data(config)
    assert data.test is None
    assert len(data.train) == 180 and len(data.val) == 20
    assert data.state["classes"] == [0, 1] and data.state["num_features"] == 2
    train = data.train.tensors
    real = torch.arange(train["x"].shape[1]) < train["lengths"].unsqueeze(1)
    torch.testing.assert_close(train["x"][real].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    assert train["x"][~real].abs().sum() == 0  # padding stays zero after scaling


def test_run_end_to_end_on_a_file_with_a_test_split(tmp_path):
    task = get_task("classify")
    flags = {
        "data.path": str(_npz(tmp_path / "d.npz")),
        "model.hidden_size": "8",
        "train.epochs": "4",
        "train.progress": "false",
    }
    result = fit(task, resolve(task.config_class, flags=flags), tmp_path / "run")
    assert result.metrics["test"]["accuracy"] >= 0.9
    assert {"precision", "recall", "f1", "confusion"} <= set(result.metrics["test"])
    for name in (
        "config.json",
        "metrics.json",
        "log.csv",
        "steps.csv",
        "loss.png",
        "confusion_test.png",
    ):
        assert (tmp_path / "run" / name).is_file(), name

    run = load_run(task, tmp_path / "run")
    inputs = task.read_inputs(_npz(tmp_path / "new.npz", seed=1), run.config, run.state)
    predictions = predict_run(run, inputs.source, progress=False)
    rows = task.write_predictions(tmp_path / "pred.csv", predictions, inputs, run.context("input"))
    assert rows == 60
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "index,prediction,confidence,p_0,p_1" and len(lines) == 61
    truth = np.load(tmp_path / "new.npz", allow_pickle=True)["y_test"]  # our own file
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert (predicted == truth).mean() >= 0.9


def test_string_labels_and_wrong_feature_counts(tmp_path):
    task = get_task("classify")
    csv = tmp_path / "d.csv"
    rows = ["sequence,label,a"] + [f"s{i},{'yes' if i % 2 else 'no'},{i % 2}" for i in range(40)]
    csv.write_text("\n".join(rows) + "\n")
    config = resolve(task.config_class, flags={"data.path": str(csv)})
    data = task.load_data(config)
    assert data.state["classes"] == ["no", "yes"]
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros((2, 3, 5)))
    with pytest.raises(
        ValueError, match="other.npz: sequences have 5 features, the model was trained on 1"
    ):
        task.read_inputs(other, config, data.state)
