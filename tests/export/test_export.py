"""Exported graphs compute what the PyTorch model computes, at any batch size and length.

ONNX Runtime (CPU) against PyTorch, float32, within 1e-5: LSTM, GRU and RNN layers, 1 and 2
layers, one and two directions, at sequence lengths other than the example's (a graph whose time
axis was fixed at export fails here) and with sequences shorter than the padded length. Then
each task's run exported through ``rnnkit export``, against the run's own predictions.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

import rnnkit
import rnnkit.nn as rnn
from rnnkit.export import export_run
from support.cli import rnnkit as run_cli

TOLERANCE = 1e-5


class Encoder(torch.nn.Module):
    def __init__(self, cell: str, layers: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = rnn.make_encoder(cell, 3, 6, num_layers=layers, bidirectional=bidirectional)

    def forward(self, x, lengths):
        out, state = self.rnn(x, lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        return out, h


def to_onnx(module, example, names, axes) -> ort.InferenceSession:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, example, buffer, dynamo=False, opset_version=17, input_names=names[0],
            output_names=names[1], dynamic_axes=axes,
        )  # fmt: skip
    return ort.InferenceSession(buffer.getvalue())


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_layers_export_with_dynamic_batch_and_lengths(cell, layers, bidirectional):
    torch.manual_seed(0)
    module = Encoder(cell, layers, bidirectional).eval()
    example = (torch.randn(2, 5, 3), torch.tensor([5, 3]))
    axes = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
            "out": {0: "batch", 1: "time"}, "h": {1: "batch"}}  # fmt: skip
    session = to_onnx(module, example, (["x", "lengths"], ["out", "h"]), axes)
    rng = np.random.default_rng(1)
    for batch in (1, 4):
        for length in (2, 9, 17):  # none is the example's length
            x = rng.normal(size=(batch, length, 3)).astype(np.float32)
            lengths = rng.integers(1, length + 1, size=batch)
            lengths[0] = length
            if batch > 1:
                lengths[1] = max(1, length // 2)  # shorter than the padded length
            got = session.run(None, {"x": x, "lengths": lengths.astype(np.int64)})
            with torch.no_grad():
                want = module(torch.from_numpy(x), torch.from_numpy(lengths))
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w.numpy(), atol=TOLERANCE, rtol=0)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "digits"
    done = run_cli(
        "classify", "train", "--dataset", "digits", "--model.hidden_size", "16",
        "--model.bidirectional", "true", "--epochs", "2", "--out", out, "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_rnnkit_export_classify_takes_raw_features(digits_run, tmp_path):
    done = run_cli("export", "--run", digits_run, "--out", tmp_path / "d.onnx")
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "d.json").read_text())
    assert meta["inputs"]["x"]["shape"] == ["batch", "time", 8] and meta["classes"] == list(
        range(10)
    )
    from sklearn.datasets import load_digits

    images = load_digits().images[:7].astype(np.float32)  # raw 0-16 pixels: scaled in the graph
    lengths = np.array([8, 8, 5, 8, 3, 8, 8])
    for i, n in enumerate(lengths):
        images[i, n:] = 0
    got = ort.InferenceSession(str(tmp_path / "d.onnx")).run(
        None, {"x": images, "lengths": lengths}
    )[0]
    clf = rnnkit.load(digits_run)
    want = clf.predict_proba([images[i, :n] for i, n in enumerate(lengths)])
    np.testing.assert_allclose(got, want, atol=TOLERANCE)


def test_torchscript_export_matches(digits_run, tmp_path):
    path = export_run(digits_run, tmp_path / "d.pt", "torchscript")
    graph = torch.jit.load(str(path))
    x = torch.rand(3, 11, 8) * 16  # a length the trace never saw
    lengths = torch.tensor([11, 4, 7])
    clf = rnnkit.load(digits_run)
    want = clf.predict_proba([x[i, :n].numpy() for i, n in enumerate(lengths)])
    with torch.no_grad():
        got = graph(x, lengths).numpy()
    np.testing.assert_allclose(got, want, atol=TOLERANCE)


def test_forecast_export_takes_and_returns_the_data_units(tmp_path, shared_datasets):
    air = pd.read_csv(shared_datasets / "airline-passengers" / "airline-passengers.csv")
    model = rnnkit.Forecaster(lookback=24, horizon=12, epochs=2, data__val=24, data__test=24,
                              model__hidden_size=8, eval__baselines=["naive"])  # fmt: skip
    model.fit(air, time_column="Month", target="Passengers")
    path = model.export(tmp_path / "air.onnx")
    past = air.Passengers.to_numpy(np.float32)[-24:].reshape(1, 24, 1)
    got = ort.InferenceSession(str(path)).run(
        None, {"past": past, "series": np.zeros(1, dtype=np.int64)}
    )[0]
    want = model.predict()["Passengers"].to_numpy()
    np.testing.assert_allclose(got[0, :, 0], want, rtol=1e-5)


def test_language_model_export_carries_the_state(tmp_path):
    text = "the cat sat on the mat. the dog sat on the log.\n" * 40
    lm = rnnkit.LanguageModel(model__hidden_size=16, model__num_layers=2, epochs=1,
                              data__seq_len=8, train__batch_size=4)  # fmt: skip
    lm.fit(text)
    path = lm.export(tmp_path / "lm.onnx")
    session = ort.InferenceSession(str(path))
    tokens = np.array([[3, 4, 5, 6, 7, 8]], dtype=np.int64)
    zeros = np.zeros((2, 1, 16), np.float32)
    full = session.run(None, {"tokens": tokens, "h": zeros, "c": zeros})[0]
    first = session.run(None, {"tokens": tokens[:, :4], "h": zeros, "c": zeros})
    rest = session.run(None, {"tokens": tokens[:, 4:], "h": first[1], "c": first[2]})[0]
    np.testing.assert_allclose(np.concatenate([first[0], rest], 1), full, atol=TOLERANCE)
    with torch.no_grad():
        want, _ = lm.run_.model(torch.from_numpy(tokens))
    np.testing.assert_allclose(full, want.numpy(), atol=TOLERANCE)
    meta = json.loads(path.with_suffix(".json").read_text())
    vocab = lm.run_.state["vocabulary"]
    assert meta["vocabulary"] == vocab and len(vocab["tokens"]) == full.shape[-1]


def test_layers_that_cannot_export_are_named(tmp_path):
    out = tmp_path / "ln"
    done = run_cli("classify", "train", "--dataset", "digits", "--model.hidden_size", "8",
                   "--model.layer_norm", "true", "--epochs", "1", "--out", out, "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    failed = run_cli("export", "--run", out)
    assert failed.returncode == 2 and "layer_norm, recurrent_dropout" in failed.stderr
