"""The estimators: the tasks from Python, equal to the command line on the same data and seed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import rnnkit
from rnnkit.config import ConfigError
from support.cli import rnnkit as run_cli

SKIP = {"wall_time_s", "run_dir", "version"}


def same_metrics(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k not in SKIP} == {
        k: v for k, v in b.items() if k not in SKIP
    }


def sequences(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return [rng.normal(loc=label - 1.0, size=(rng.integers(3, 8), 4)) for label in y], y


# ----------------------------------------------------------------------------- Classifier
def test_classifier_equals_the_command_line(tmp_path):
    X, y = sequences()
    clf = rnnkit.Classifier(model__hidden_size=8, epochs=3, run_dir=tmp_path / "py").fit(X, y)
    data = tmp_path / "py" / "data" / "train.npz"
    done = run_cli("classify", "train", "--data", data, "--model.hidden_size", "8",
                   "--epochs", "3", "--out", tmp_path / "cli", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    same_metrics(clf.metrics_, json.loads((tmp_path / "cli" / "metrics.json").read_text()))
    assert clf.classes_.tolist() == [0, 1, 2]


def test_classifier_inputs_arrays_lists_and_frames_agree(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5, 2))
    y = np.where(X.mean(axis=(1, 2)) > 0, "up", "down")
    clf = rnnkit.Classifier(model__hidden_size=8, epochs=2).fit(X, y)
    frame = pd.DataFrame(
        [{"sequence": f"s{i}", "step": t, "a": X[i, t, 0], "b": X[i, t, 1]}
         for i in range(60) for t in reversed(range(5))]  # steps out of order: sorted by `step`
    )  # fmt: skip
    np.testing.assert_allclose(clf.predict_proba(frame), clf.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(list(X)), clf.predict_proba(X), atol=1e-6)
    assert set(clf.predict(X)) <= {"up", "down"} and clf.classes_.tolist() == ["down", "up"]
    assert clf.score(X, y) == pytest.approx((clf.predict(X) == y).mean())
    by_id = pd.Series(y, index=[f"s{i}" for i in range(60)])
    again = rnnkit.Classifier(model__hidden_size=8, epochs=2).fit(frame, by_id)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_classifier_save_load_predict_identical(tmp_path):
    X, y = sequences(60)
    clf = rnnkit.Classifier(model__hidden_size=8, epochs=2).fit(X, y)
    clf.save(tmp_path / "saved")
    loaded = rnnkit.load(tmp_path / "saved")
    assert type(loaded) is rnnkit.Classifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params()["model__hidden_size"] == 8


def test_classifier_works_with_scikit_learn():
    X, y = sequences(90)
    clf = rnnkit.Classifier(model__hidden_size=8, epochs=2)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    pipe = make_pipeline(FunctionTransformer(lambda seqs: [s * 2 for s in seqs]), clone(clf))
    assert pipe.fit(X, y).predict(X[:4]).shape == (4,)
    assert clf.set_params(epochs=3) is clf and clf.get_params()["epochs"] == 3


def test_settings_are_checked_with_python_names():
    with pytest.raises(ConfigError, match="unknown setting 'model__hiden_size' — did you mean"):
        rnnkit.Classifier(model__hiden_size=8)
    X, y = sequences(30)
    with pytest.raises(ConfigError, match=r"^model__hidden_size: must be >= 1, got 0$"):
        rnnkit.Classifier(model__hidden_size=0).fit(X, y)
    with pytest.raises(ValueError, match="not fitted yet"):
        rnnkit.Classifier().predict(X)


# ----------------------------------------------------------------------------- Forecaster
def panel(names=("a", "b", "c"), n=200) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    frames = []
    for k, name in enumerate(names):
        t = pd.date_range("2021-01-01", periods=n, freq="h")
        y = 10 * (k + 1) + np.sin(np.arange(n) * 2 * np.pi / 24) + rng.normal(0, 0.1, n)
        frames.append(pd.DataFrame({"unique_id": name, "ds": t, "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_forecaster_equals_the_command_line(tmp_path, shared_datasets):
    csv = shared_datasets / "airline-passengers" / "airline-passengers.csv"
    settings = {"lookback": 24, "horizon": 12, "epochs": 3, "data__val": 24, "data__test": 24,
                "model__hidden_size": 8, "eval__baselines": ["naive"]}  # fmt: skip
    model = rnnkit.Forecaster(**settings, run_dir=tmp_path / "py")
    model.fit(pd.read_csv(csv), time_column="Month", target="Passengers")
    done = run_cli(
        "forecast", "train", "--csv", csv, "--data.time_column", "Month", "--target",
        "Passengers", "--lookback", "24", "--horizon", "12", "--epochs", "3", "--data.val", "24",
        "--data.test", "24", "--model.hidden_size", "8", "--eval.baselines", "naive",
        "--out", tmp_path / "cli", "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    same_metrics(model.metrics_, json.loads((tmp_path / "cli" / "metrics.json").read_text()))
    ahead = model.predict()
    assert ahead.index[0] == pd.Timestamp("1961-01-01") and len(ahead) == 12
    history = model.historical_forecasts(start="1959-01-01")
    truth = pd.read_csv(csv, index_col=0, parse_dates=True)["Passengers"]
    assert (history["Passengers_true"].to_numpy() == truth[history["Month"]].to_numpy()).all()
    assert history["origin"].min() >= pd.Timestamp("1958-12-01")


def test_one_global_forecaster_for_three_series():
    df = panel()
    model = rnnkit.Forecaster(lookback=48, horizon=12, epochs=2, model__hidden_size=8)
    model.fit(df, time_column="ds", target="y", id_column="unique_id")
    state = model.run_.state
    assert list(state["series"]) == ["a", "b", "c"]  # one model, three scalers
    ahead = model.predict()
    assert ahead["unique_id"].tolist() == ["a"] * 12 + ["b"] * 12 + ["c"] * 12
    history = model.historical_forecasts(start=0.9)
    assert set(history["unique_id"]) == {"a", "b", "c"} and (history["step"] <= 12).all()


# ----------------------------------------------------------------------------- Detector
def test_detector_equals_the_command_line(tmp_path, shared_datasets):
    csv = shared_datasets / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv"
    detector = rnnkit.Detector(method="autoencoder", epochs=2, run_dir=tmp_path / "py")
    found = detector.fit(pd.read_csv(csv)).detect(csv)
    done = run_cli("anomaly", "train", "--data", csv, "--method", "autoencoder", "--epochs", "2",
                   "--out", tmp_path / "cli", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert run_cli("anomaly", "detect", "--run", tmp_path / "cli", "--input", csv,
                   "--output", tmp_path / "d.csv", "-q").returncode == 0  # fmt: skip
    cli = pd.read_csv(tmp_path / "d.csv")
    np.testing.assert_allclose(found["score"].to_numpy(), cli["score"].to_numpy(), equal_nan=True)
    assert found["event"].tolist() == cli["event"].tolist()
    values = pd.read_csv(csv)["value"].to_numpy()
    raw = detector.detector_.raw_scores(values[:, None])
    assert detector.score(values[500:600]) == pytest.approx(raw[599], rel=1e-5)


# ----------------------------------------------------------------------------- LanguageModel
def test_language_model_generates_and_saves(tmp_path):
    text = "the cat sat on the mat. the dog sat on the log.\n" * 60
    lm = rnnkit.LanguageModel(model__hidden_size=16, model__num_layers=1, epochs=2,
                              data__seq_len=8, train__batch_size=4).fit(text)  # fmt: skip
    sample = lm.generate("the ", length=30, seed=1)
    assert sample.startswith("the ") and len(sample) == 34
    assert 1 < lm.perplexity("the cat sat on the log.\n") < 20  # 16 characters in the text
    lm.save(tmp_path / "lm")
    again = rnnkit.load(tmp_path / "lm")
    assert type(again) is rnnkit.LanguageModel and again.generate("the ", 30, seed=1) == sample


def test_language_model_equals_the_command_line(tmp_path):
    text = "the cat sat on the mat. the dog sat on the log.\n" * 40
    lm = rnnkit.LanguageModel(model__hidden_size=16, model__num_layers=1, epochs=2,
                              data__seq_len=8, train__batch_size=4,
                              run_dir=tmp_path / "py").fit(text)  # fmt: skip
    corpus = tmp_path / "py" / "data" / "corpus.txt"
    done = run_cli("lm", "train", "--data.files", corpus, "--model.hidden_size", "16",
                   "--model.num_layers", "1", "--epochs", "2", "--data.seq_len", "8",
                   "--train.batch_size", "4", "--out", tmp_path / "cli", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    same_metrics(lm.metrics_, json.loads((tmp_path / "cli" / "metrics.json").read_text()))
