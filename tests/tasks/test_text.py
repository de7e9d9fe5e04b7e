"""The text task: preprocessing options, the vocabulary, length handling, the model, the CLI.

The command-line tests run the real ``rnnkit`` command tree in this process (click's runner):
a subprocess would spend most of its time importing torch and the engine again.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from rnnkit.cli.main import cli
from rnnkit.data import DataError, TensorBatches
from rnnkit.data.documents import Documents
from rnnkit.tasks.text import TASK, TextClassifier, TextConfig, TextModel, TextPrep
from rnnkit.tasks.text import preprocess as prep
from rnnkit.tasks.text.task import split_documents, to_batches
from rnnkit.train import load_run
from rnnkit.train.loading import TrainBatches

# ---------------------------------------------------------------------------- preprocessing


def test_html_case_and_words():
    p = TextPrep()
    [tokens] = prep.tokenize(["It&#39;s <b>NOT</b> good.<br /><br />Don’t go!"], p)
    assert tokens == ["it's", "not", "good", ".", "don't", "go", "!"]
    [kept] = prep.tokenize(["<b>NOT</b> Good"], replace(p, strip_html=False, lower=False))
    assert kept == ["<", "b", ">", "NOT", "<", "/", "b", ">", "Good"]


def test_stop_words_keep_negations_by_default():
    p = replace(TextPrep(), stopwords="english")
    [tokens] = prep.tokenize(["This is not a film I would never watch, isn't it"], p)
    assert tokens == ["not", "film", "never", "watch", ",", "isn't"]
    [bare] = prep.tokenize(
        ["This is not a film I would never watch"], replace(p, keep_negations=False)
    )
    assert bare == ["film", "watch"]


def test_snowball_stems():
    [tokens] = prep.tokenize(["Running runners ran generously"], replace(TextPrep(), stem=True))
    assert tokens == ["run", "runner", "ran", "generous"]


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subwords_are_trained_on_training_texts(kind):
    train = ["the movie was wonderful", "a wonderfully bad movie", "the plot was bad"] * 30
    p = replace(TextPrep(), tokenizer=kind, subword_vocab=120, min_freq=1)
    state, docs = prep.fit(train, p)
    vocab = prep.vocabulary(state)
    assert vocab.tokens[:2] == ["<pad>", "<unk>"]
    [unseen] = prep.tokenize(["WONDERFULLY bad"], p, state["subwords"])
    assert "".join(t.lstrip("#▁") for t in unseen) == "wonderfullybad"  # pieces cover the text
    assert all(t in vocab for t in unseen)  # every piece was seen in training
    assert docs[0] == prep.tokenize([train[0]], p, state["subwords"])[0]


def test_vocabulary_comes_from_training_documents_only():
    train = Documents(["good film good", "bad film"] * 2, ["pos", "neg"] * 2, list("abcd"))
    test = Documents(["zebra film", "good quokka"], ["pos", "neg"], ["t1", "t2"])
    p = replace(TextPrep(), min_freq=1)
    state, _ = prep.fit(train.texts, p)
    vocab = prep.vocabulary(state)
    assert "zebra" not in vocab and "quokka" not in vocab
    config = replace(TextConfig(), text=p)
    ids = to_batches(test, config, {**state, "classes": ["neg", "pos"]}, "test").tensors["ids"]
    assert ids[0, 0] == prep.UNK_ID and ids[1, 1] == prep.UNK_ID  # unseen tokens -> <unk>
    p2 = replace(p, min_freq=2, max_vocab=1)
    vocab2 = prep.vocabulary(prep.fit(train.texts, p2)[0])
    assert vocab2.tokens == ["<pad>", "<unk>", "film"]  # 4 times, before good (4) by name


@pytest.mark.parametrize(
    ("how", "kept"),
    [("head", [0, 1, 2, 3]), ("tail", [6, 7, 8, 9]), ("head+tail", [0, 7, 8, 9])],
)
def test_truncation(how, kept):
    p = replace(TextPrep(), max_length=4, truncation=how, head_share=0.25)
    assert prep.truncate(list(range(10)), p) == kept
    assert prep.truncate([1, 2], p) == [1, 2]


def test_encode_pads_and_refuses_a_document_left_empty():
    p = replace(TextPrep(), min_freq=1)
    vocab = prep.vocabulary(prep.fit(["a b c"], p)[0])
    ids, lengths = prep.encode([["a", "b", "c"], ["c"]], p, vocab)
    assert ids.tolist() == [[2, 3, 4], [4, 0, 0]] and lengths.tolist() == [3, 1]
    with pytest.raises(DataError, match=r"docs: neg/7\.txt: no tokens left after preprocessing"):
        prep.encode([["a"], []], p, vocab, names=["x", "neg/7.txt"], where="docs")


def test_validation_split_is_stratified_and_disjoint():
    docs = Documents(
        [f"d{i}" for i in range(100)], ["a"] * 80 + ["b"] * 20, [str(i) for i in range(100)]
    )
    rest, held = split_documents(docs, 0.1, seed=3)
    assert sorted(rest.names + held.names, key=int) == docs.names
    assert held.labels.count("a") == 8 and held.labels.count("b") == 2


# ---------------------------------------------------------------------------- lengths, model


def _padding(batches: TrainBatches, lengths: np.ndarray) -> int:
    """Padded positions over one epoch; checks every document is read exactly once."""
    seen, padded = [], 0
    for batch, _ in batches:
        n = batch["lengths"]
        assert batch["ids"].shape[1] == int(n.max())  # each batch is cut to its longest
        seen += batch["ids"][:, 0].tolist()
        padded += batch["ids"].numel() - int(n.sum())
    assert sorted(seen) == list(range(len(lengths)))
    return padded


def test_bucketed_epochs_read_every_document_once_in_similar_lengths():
    lengths = np.random.default_rng(0).integers(5, 400, size=1000)
    ids = torch.arange(1000)[:, None].repeat(1, 400)  # each row holds its own index
    source = TensorBatches({"ids": ids, "lengths": torch.from_numpy(lengths)}, time_keys=("ids",))
    for epoch in range(2):
        bucketed = TrainBatches(source, batch_size=32, seed=0, bucketing=10)
        plain = TrainBatches(source, batch_size=32, seed=0)
        bucketed.set_epoch(epoch)
        plain.set_epoch(epoch)
        assert _padding(bucketed, lengths) < 0.25 * _padding(plain, lengths)


def _model(cell: str, path: str, layers: int = 2, pooling: str = "mean+max") -> TextClassifier:
    config = TextModel(embedding_size=6, hidden_size=5, cell=cell, num_layers=layers, path=path,
                       pooling=pooling)  # fmt: skip
    torch.manual_seed(0)
    return TextClassifier(30, 3, config).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("path", ["reverse", "packed"])
@pytest.mark.parametrize("pooling", ["last", "mean+max", "attention"])
def test_padded_batch_gives_each_documents_own_logits(cell, path, pooling):
    model = _model(cell, path, pooling=pooling)
    lengths = torch.tensor([7, 3, 1, 5])
    ids = torch.randint(2, 30, (4, 7)).masked_fill(torch.arange(7) >= lengths[:, None], 0)
    with torch.no_grad():
        batch = model(ids, lengths)
        alone = torch.cat(
            [model(ids[i : i + 1, :n], lengths[i : i + 1]) for i, n in enumerate(lengths)]
        )
        junk = model(ids.masked_fill(ids == 0, 17), lengths)  # padding holds other tokens
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(junk, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reverse_path_equals_the_packed_bidirectional_layer(cell):
    dense, packed = _model(cell, "reverse"), _model(cell, "packed")
    weights = {k: v for k, v in dense.state_dict().items() if not k.startswith("encoder.")}
    for level, directions in enumerate(dense.encoder.layers):
        for d, layer in enumerate(directions):
            for name, value in layer.state_dict().items():
                weights[f"encoder.rnn.{name.replace('_l0', f'_l{level}')}{'_reverse' * d}"] = value
    packed.load_state_dict(weights)
    lengths = torch.tensor([6, 2, 4])
    ids = torch.randint(2, 30, (3, 6)).masked_fill(torch.arange(6) >= lengths[:, None], 0)
    with torch.no_grad():
        torch.testing.assert_close(dense(ids, lengths), packed(ids, lengths), atol=1e-5, rtol=1e-5)


def test_max_pooling_weights_are_shares_of_units_over_real_tokens():
    model = _model("lstm", "reverse", layers=1, pooling="max")
    lengths = torch.tensor([5, 2])
    ids = torch.randint(2, 30, (2, 5)).masked_fill(torch.arange(5) >= lengths[:, None], 0)
    with torch.no_grad():
        _, weights = model.classify(ids, lengths)
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    assert weights[1, 2:].abs().sum() == 0  # nothing on padding


# ------------------------------------------------------------------------------------- CLI

POSITIVE = ["good", "great", "wonderful", "loved", "excellent"]
NEGATIVE = ["bad", "awful", "boring", "hated", "terrible"]
FILLER = ["the", "movie", "was", "a", "film", "and", "it", "this", "plot", "acting", "story"]


def _review(rng, words) -> str:
    body = list(rng.choice(FILLER, size=rng.integers(4, 30)))
    for w in rng.choice(words, size=2):
        body.insert(int(rng.integers(0, len(body))), str(w))
    return "<p>" + " ".join(body).capitalize() + ".</p>"


def _corpus(folder, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
        (folder / label).mkdir(parents=True)
        for i in range(n):
            (folder / label / f"{i}.txt").write_text(_review(rng, words))


def rnnkit(*args) -> Result:
    """``rnnkit ARGS...`` run in this process; exit code, stdout and stderr captured."""
    return CliRunner().invoke(cli, [*map(str, args)])


def one_clean_error(done: Result, code: int) -> str:
    """Assert the command failed with ``code``, one ``Error:`` line and no traceback; return it."""
    assert done.exit_code == code, (done.exit_code, done.output[-2000:])
    assert "Traceback" not in done.output, done.output[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


FAST = ["--text.min_freq", "1", "--model.embedding_size", "16", "--model.hidden_size", "12",
        "--train.batch_size", "16", "--train.progress", "false", "--optim.lr", "0.01"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    _corpus(root / "train", 60, 0)
    _corpus(root / "test", 20, 1)
    out = root / "run"
    done = rnnkit("text", "train", "--data", root / "train", "--data.test", root / "test",
                  "--epochs", "6", "--model.pooling", "attention", "--report.highlight", "2",
                  "--model.embeddings", "word2vec", *FAST, "--out", out)  # fmt: skip
    assert done.exit_code == 0, done.output[-3000:]
    return root, out


def test_train_learns_and_reports_beside_baselines(trained):
    _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert test["accuracy"] >= 0.9  # two sentiment words per review: chance is 0.5
    assert set(test["per_class"]) == {"neg", "pos"} and test["per_class"]["pos"]["support"] == 20
    assert test["tfidf_logreg_accuracy"] >= 0.9 and "nbsvm_accuracy" in test
    report = (out / "report_test.md").read_text()
    assert "| tfidf_logreg (C=" in report and "| RNN (this run) |" in report
    page = (out / "attention_test.html").read_text()
    assert page.count("class='doc'") == 2 and "attention weight" in page
    assert (out / "confusion_test.png").stat().st_size > 1000
    state = json.loads((out / "checkpoints" / "best" / "task.json").read_text())
    assert state["init_vectors"] is None and state["embedding_info"]["vectors_found"] > 20


def _probs(out, path) -> torch.Tensor:
    """Class probabilities of a run's model, loaded in this process, for a file of documents."""
    loaded = load_run(TASK, out)
    batches = TASK.read_inputs(path, loaded.config, loaded.state).source.tensors
    with torch.no_grad():
        return torch.softmax(loaded.model.eval()(batches["ids"], batches["lengths"]), 1)


def test_save_load_predict_is_identical(trained, tmp_path):
    root, out = trained
    target = tmp_path / "p.csv"
    done = rnnkit("text", "predict", "--run", out, "--input", root / "test", "--output", target)
    assert done.exit_code == 0, done.output[-2000:]
    assert done.stdout.strip() == f"wrote 40 predictions to {target}"
    rows = list(csv.DictReader(target.open()))
    assert rows[0]["name"] == "neg/0.txt" and set(rows[0]) >= {"prediction", "confidence", "p_pos"}
    saved = torch.tensor([[float(r["p_neg"]), float(r["p_pos"])] for r in rows])
    torch.testing.assert_close(saved, _probs(out, root / "test"), atol=2e-6, rtol=0)
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    predicted = [r["prediction"] for r in rows]
    truth = [r["name"].split("/")[0] for r in rows]
    right = sum(p == t for p, t in zip(predicted, truth)) / len(rows)
    assert right == pytest.approx(metrics["accuracy"])  # the saved model is the evaluated one


def test_predict_reads_a_csv_and_refuses_unknown_labels(trained, tmp_path):
    _, out = trained
    (tmp_path / "new.csv").write_text("text,label\nA wonderful film,pos\nSo boring,meh\n")
    one = one_clean_error(
        rnnkit("text", "predict", "--run", out, "--input", tmp_path / "new.csv"), 1
    )
    assert "new.csv: row 2: label 'meh' is not one of the classes ['neg', 'pos']" in one
    (tmp_path / "new.csv").write_text("text\nA wonderful film\nSo boring and bad\n")
    assert _probs(out, tmp_path / "new.csv").argmax(1).tolist() == [1, 0]  # pos, neg


def test_bad_documents_get_one_clean_error(tmp_path):
    _corpus(tmp_path / "d", 3, 0)
    (tmp_path / "d" / "neg" / "1.txt").write_bytes(b"caf\xe9")
    one = one_clean_error(rnnkit("text", "train", "--data", tmp_path / "d", *FAST), 1)
    assert "neg/1.txt: not UTF-8 text (invalid byte 0xe9 at offset 3)" in one


def _load(path) -> None:
    TASK.load_data(replace(TextConfig(), data=replace(TextConfig().data, path=str(path))))


def test_bad_training_data_is_named(tmp_path):
    _corpus(tmp_path / "d", 3, 0)
    (tmp_path / "d" / "neg" / "1.txt").write_text(" \n")
    with pytest.raises(DataError, match=r"neg/1\.txt: the document is empty"):
        _load(tmp_path / "d")
    (tmp_path / "one.csv").write_text("text,label\ngood film,pos\nnice,pos\n")
    with pytest.raises(DataError, match=r"one\.csv: the training labels hold one class only"):
        _load(tmp_path / "one.csv")
    rows = ["good film,pos", "bad film,neg"] * 10 + ["<br />,neg"]
    (tmp_path / "one.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"one\.csv \(\w+\): row 21: no tokens left"):
        _load(tmp_path / "one.csv")
