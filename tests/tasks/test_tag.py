"""The tag task: encoder and tagger invariants, training on real data, save -> load -> predict.

Real data: the first sentences of UD English-EWT and WNUT-17 (``shared_datasets``), written to
small files so that a run takes seconds.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

from rnnkit.cli.main import cli
from rnnkit.config import ConfigError, resolve
from rnnkit.data import DataError
from rnnkit.data.conll import read_columns, read_conllu, read_lines
from rnnkit.data.vectors import read_vectors
from rnnkit.tasks.tag import TASK, TagConfig, TagModel
from rnnkit.tasks.tag.data import encode, from_model_tags, load_splits
from rnnkit.tasks.tag.metrics import tag_metrics
from rnnkit.tasks.tag.model import BiEncoder, CharCNN, Tagger
from rnnkit.tasks.tag.vectors import tokenize, train_vectors
from rnnkit.train import fit, load_run, predict_run
from support.cli import one_clean_error, rnnkit


def cli_run(*args):
    """``rnnkit tag ARGS...`` in this process (click's runner), output captured."""
    return CliRunner().invoke(cli, ["tag", *map(str, args)])


def first_sentences(source: Path, target: Path, n: int) -> Path:
    """The first ``n`` sentences of a CoNLL(-U) file (blank-line separated), copied."""
    out, count = [], 0
    for line in read_lines(source):
        out.append(line)
        if not line.strip():
            count += 1
            if count == n:
                break
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict[str, Path]:
    from conftest import SHARED_DATASETS

    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} not present")
    tmp = tmp_path_factory.mktemp("tagdata")
    ud, wn = SHARED_DATASETS / "ud-english-ewt", SHARED_DATASETS / "wnut17"
    return {
        "ud_train": first_sentences(ud / "en_ewt-ud-train.conllu.gz", tmp / "train.conllu", 600),
        "ud_dev": first_sentences(ud / "en_ewt-ud-dev.conllu", tmp / "dev.conllu", 150),
        "wn_train": first_sentences(wn / "wnut17train.conll", tmp / "train.conll", 600),
        "wn_dev": first_sentences(wn / "emerging.dev.conll", tmp / "dev.conll", 150),
    }


SMALL = {
    "model.word_size": 32,
    "model.char_size": 16,
    "model.char_hidden": 16,
    "model.hidden_size": 32,
    "train.progress": False,
    "train.eval_train": False,
    "optim.lr": 5e-3,
}


def config_for(**settings) -> TagConfig:
    return resolve(TagConfig, None, {}, base={**SMALL, **settings})


# ----------------------------------------------------------------------------- model pieces
@pytest.mark.parametrize("num_layers", [1, 2])
def test_bi_encoder_equals_a_packed_bidirectional_lstm(num_layers):
    torch.manual_seed(0)
    ours = BiEncoder("lstm", 5, 7, num_layers, dropout=0.0, recurrent_dropout=0.0).eval()
    reference = torch.nn.LSTM(5, 7, num_layers, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for k in range(num_layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ours.forward_layers[k], f"{name}_l0").copy_(
                    getattr(reference, f"{name}_l{k}")
                )
                getattr(ours.backward_layers[k], f"{name}_l0").copy_(
                    getattr(reference, f"{name}_l{k}_reverse")
                )
    lengths = torch.tensor([6, 2, 4, 1])
    x = torch.randn(4, 6, 5)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(reference(packed)[0], batch_first=True)
    got = ours(x, lengths)
    mask = torch.arange(6)[None, :] < lengths[:, None]
    assert torch.allclose(got[mask], expected[mask], atol=1e-5)  # float32


def test_char_cnn_features_do_not_depend_on_padding():
    torch.manual_seed(0)
    cnn = CharCNN(20, 8, 6, 3)
    word = torch.tensor([[[5, 6, 7, 0, 0, 0]]])  # one 3-letter word, padded to 6 characters
    longer = torch.tensor([[[5, 6, 7, 0, 0, 0], [9, 9, 9, 9, 9, 9]]])
    assert torch.allclose(cnn(word)[0, 0], cnn(longer)[0, 0], atol=1e-6)
    assert bool((cnn(torch.zeros(1, 2, 6, dtype=torch.long)) == 0).all())  # padding words: 0


@pytest.mark.parametrize("head", ["crf", "softmax"])
@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_a_padded_batch_gets_the_tags_of_each_sentence_alone(small_files, head, char_encoder):
    config = config_for(**{"data.train": str(small_files["wn_train"])})
    sentences, state = load_splits(config.data)
    model_config = TagModel(**{**vars(config.model), "head": head, "char_encoder": char_encoder})
    torch.manual_seed(0)
    model = Tagger(len(state["words"]["tokens"]), len(state["chars"]["tokens"]), state["tags"],
                   state["encoding"], model_config).eval()  # fmt: skip
    chosen = sorted(sentences["train"][:40], key=lambda s: len(s.tokens))[::8]  # mixed lengths
    together = TASK.predict(model, encode(chosen, state)[torch.arange(len(chosen))])
    alone = [TASK.predict(model, encode([s], state)[torch.tensor([0])])["tags"] for s in chosen]
    assert torch.equal(together["tags"], torch.cat(alone))
    assert together["lengths"].tolist() == [len(s.tokens) for s in chosen]


def test_strict_entity_scores_refuse_chunks_that_begin_inside():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"]]
    predicted = [["I-PER", "I-PER", "O"], ["B-LOC", "O", "O"]]  # lenient seqeval counts PER
    metrics = tag_metrics(gold, predicted, chunked=True)
    assert metrics["precision"] == 1.0 and metrics["recall"] == 0.5
    assert metrics["per_type"]["PER"]["f1"] == 0.0 and metrics["per_type"]["LOC"]["f1"] == 1.0
    assert metrics["accuracy"] == 5 / 6
    assert metrics["errors"] == [{"gold": "B-PER", "predicted": "I-PER", "count": 1}]


# ------------------------------------------------------------------------- training end to end
@pytest.fixture(scope="module")
def pos_run(small_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tagrun") / "pos"
    config = config_for(**{
        "data.train": str(small_files["ud_train"]),
        "data.validation": str(small_files["ud_dev"]),
        "train.epochs": 6,
        "model.head": "softmax",
        "model.dropout": 0.2,
    })  # fmt: skip
    fit(TASK, config, out)
    return out


def test_pos_tagger_learns_and_reports(pos_run, small_files):
    metrics = json.loads((pos_run / "metrics.json").read_text())
    validation = metrics["validation"]
    # 600 training sentences: far above the most frequent tag (NOUN, about 17% of tokens)
    assert validation["accuracy"] > 0.75
    assert validation["counts"]["sentences"] == 150
    assert 0 < validation["counts"]["unknown_tokens"] < validation["counts"]["tokens"]
    assert validation["unknown_accuracy"] < validation["accuracy"]  # unseen words are harder
    errors = validation["errors"]
    assert errors and errors[0]["count"] >= errors[-1]["count"] and "f1" not in validation
    written = read_columns(pos_run / "predictions_validation.conll", tag_column=1)  # the gold
    assert sum(len(s.tokens) for s in written) == validation["counts"]["tokens"]
    assert [s.tags for s in written] == [s.tags for s in read_conllu(small_files["ud_dev"])]


def test_save_load_predict_gives_the_tags_training_reported(pos_run, small_files, tmp_path):
    written = read_columns(pos_run / "predictions_validation.conll")  # token gold predicted
    run = load_run(TASK, pos_run)
    inputs = TASK.read_inputs(small_files["ud_dev"], run.config, run.state)
    predictions = predict_run(run, inputs.source, progress=False)
    lengths = predictions["lengths"].tolist()
    assert lengths == [len(s.tokens) for s in written]
    flat = [run.state["tags"][i] for i in predictions["tags"].tolist()]
    assert flat == [t for s in written for t in s.tags]
    # the command line (in process: a subprocess would spend its time importing torch):
    # CoNLL-U in, CoNLL-U out with the predicted UPOS, the rest kept
    out = tmp_path / "out.conllu"
    done = cli_run("predict", "--run", pos_run, "--input", small_files["ud_dev"], "--output", out)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == f"wrote 150 predictions to {out}"
    assert [t for s in read_conllu(out) for t in s.tags] == flat
    assert [s.tokens for s in read_conllu(out, "xpos")] == [s.tokens for s in written]
    done = cli_run("evaluate", "--run", pos_run, "--data", small_files["ud_dev"])
    assert done.exit_code == 0, done.output
    metrics = json.loads((pos_run / "metrics.json").read_text())
    assert json.loads(done.stdout)["accuracy"] == metrics["validation"]["accuracy"]


def test_ner_scores_equal_seqeval_on_the_written_predictions(small_files, tmp_path):
    config = config_for(**{
        "data.train": str(small_files["wn_train"]),
        "data.validation": str(small_files["wn_dev"]),
        "data.encoding": "bioes",
        "train.epochs": 2,
        "train.monitor": "f1",
    })  # fmt: skip
    result = fit(TASK, config, tmp_path / "ner")
    written = read_columns(tmp_path / "ner" / "predictions_validation.conll", tag_column=1)
    predicted = [s.tags for s in read_columns(tmp_path / "ner" / "predictions_validation.conll")]
    gold = [s.tags for s in written]
    assert gold == [s.tags for s in read_columns(small_files["wn_dev"])]  # IOB2 written back
    expected = f1_score(gold, predicted, mode="strict", scheme=IOB2)
    assert result.metrics["validation"]["f1"] == pytest.approx(expected, abs=1e-12)
    for tags in predicted:  # the constrained CRF writes valid IOB2 only
        assert from_model_tags(tags, {"encoding": "iob2"}) == tags
        assert all(not t.startswith("I-") or p[2:] == t[2:] and p != "O"
                   for p, t in zip(["O", *tags], tags))  # fmt: skip


def test_malformed_training_files_are_refused_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("Paris\tB-LOC\nis\tO\n\nnice\tO\textra\n")
    with pytest.raises(DataError, match=rf"^{bad}: line 4: 3 columns, expected 2 as on the"):
        TASK.load_data(config_for(**{"data.train": str(bad)}))
    bad.write_text("Paris\tB-LOC\nis\tO\n\nnice\tU-LOC\n")
    with pytest.raises(DataError, match=rf"^{bad}: line 4: tag 'U-LOC' is not IOB2"):
        TASK.load_data(config_for(**{"data.train": str(bad), "data.scheme": "iob2"}))


def test_training_with_validation_adds_its_sentences_and_leaves_none_to_validate(small_files):
    files = {"data.train": str(small_files["wn_train"]),
             "data.validation": str(small_files["wn_dev"])}  # fmt: skip
    apart = TASK.load_data(config_for(**files))
    together = TASK.load_data(config_for(**files, **{"data.train_with_validation": True}))
    assert together.val is None and apart.val is not None
    assert len(together.train) == len(apart.train) + len(apart.val) == 600 + 150
    words = set(together.state["words"]["tokens"])
    dev_only = {w.lower() for s in read_columns(small_files["wn_dev"]) for w in s.tokens}
    dev_only -= set(apart.state["words"]["tokens"])
    assert dev_only and dev_only <= words  # the vocabulary is fitted on both
    with pytest.raises(ConfigError, match="no validation split to add"):
        TASK.load_data(config_for(**{"data.train": str(small_files["wn_train"]),
                                     "data.train_with_validation": True}))  # fmt: skip


@pytest.mark.slow
def test_a_malformed_file_on_the_command_line_is_one_error_line(tmp_path, pos_run):
    bad = tmp_path / "bad.conllu"
    bad.write_bytes(b"1\tcaf\xe9\t_\tNOUN\tNN\t_\t0\troot\t_\t_\n")
    done = rnnkit("tag", "evaluate", "--run", pos_run, "--data", bad)
    assert (
        one_clean_error(done, 1)
        == f"Error: {bad}: line 1: not UTF-8 (byte 0xe9); convert the file to UTF-8 first"
    )


def test_trained_vectors_extend_the_vocabulary_and_start_the_embeddings(small_files, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("I don't think it's @home #now http://x.y/z .\n" * 30 + "Zorblax rules .\n" * 5)
    assert tokenize("I don't think it's @home #now http://x.y/z .") == [
        "I", "do", "n't", "think", "it", "'s", "@home", "#now", "http://x.y/z", "."
    ]  # fmt: skip
    message = train_vectors(text, tmp_path / "v.vec", size=8, min_count=1, epochs=1)
    assert message.startswith(f"wrote 12 vectors of size 8 to {tmp_path / 'v.vec'}")
    size, vectors = read_vectors(tmp_path / "v.vec")
    assert size == 8 and "zorblax" in vectors and "n't" in vectors  # lower-cased
    config = config_for(**{"data.train": str(small_files["wn_train"]),
                           "model.vectors": str(tmp_path / "v.vec")})  # fmt: skip
    data = TASK.load_data(config)
    words = data.state["words"]["tokens"]
    assert "zorblax" in words and data.state["vector_size"] == 8  # unseen in training, known
    model = TASK.build_model(config, data.state)
    trained = data.state["trained_words"]
    assert words.index("zorblax") >= trained  # only the file knows it: the fixed table
    assert model.words.weight.shape == (trained, 8)
    assert model.fixed_words.shape == (len(words) - trained, 8)
    assert words.index("i") < trained  # a training word with a vector: a learned row
    ids = torch.tensor([[words.index("zorblax"), words.index("i"), 1]])
    embedded = model.embed_words(ids)[0]
    assert torch.equal(embedded[0], torch.from_numpy(vectors["zorblax"]))
    assert torch.equal(embedded[1], torch.from_numpy(vectors["i"]))
    assert torch.equal(embedded[2], model.words.weight[1])  # <unk>: learned, no vector
    # kept as read: one optimisation step moves the other words' rows, not the vectors'
    frozen = TASK.build_model(replace(config, model=replace(config.model, tune_vectors=False)),
                              data.state)  # fmt: skip
    before = frozen.words.weight.detach().clone()
    fixed_before = frozen.fixed_words.clone()
    batch = data.train[torch.arange(16)]
    optimizer = torch.optim.Adam(frozen.parameters(), lr=0.1)
    TASK.step(frozen, batch).loss.backward()
    optimizer.step()
    from_file = torch.tensor([w in vectors for w in words[:trained]])
    assert bool(from_file.any()) and not bool(from_file.all())
    assert torch.equal(frozen.words.weight[from_file], before[from_file])
    assert not torch.equal(frozen.words.weight[~from_file], before[~from_file])
    assert torch.equal(frozen.fixed_words, fixed_before)
    assert all(p.shape[0] != len(words) - trained for p in frozen.parameters())
