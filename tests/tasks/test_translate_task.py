"""The translate task end to end: the learning check (reversing random token sequences), the
split by source sentence on fra-eng, save -> load -> translate, the command line and its
errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli.actions import resolve_settings
from rnnkit.data.datasets.token_pairs import token_pairs
from rnnkit.data.parallel import read_tsv
from rnnkit.data.subwords import UNK, SubwordTokenizer
from rnnkit.tasks.translate import TASK, TranslateData, translate_sentences, translate_texts
from rnnkit.tasks.translate.data import load_splits
from rnnkit.tasks.translate.scoring import (
    corpus_scores,
    detokenize,
    length_buckets,
    multi_reference_bleu,
)
from rnnkit.tasks.translate.task import score_file
from rnnkit.train import fit, load_run
from support.cli import one_clean_error, rnnkit


@pytest.fixture(autouse=True)
def _one_thread():
    """Small batches: on a busy machine a second thread mostly waits (10x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """The learning check (``train --preset reverse``) in 2 epochs instead of 4, in this
    process (one thread: the steps are tiny)."""
    out = tmp_path_factory.mktemp("translate") / "run"
    flags = {"train.epochs": "2", "train.threads": "1", "train.progress": "false"}
    config = resolve_settings(TASK, flags, preset="reverse")
    threads = torch.get_num_threads()
    try:
        fit(TASK, config, out)
    finally:
        torch.set_num_threads(threads)
    return out


def test_the_model_learns_to_reverse_token_sequences(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert test["bleu"] > 90 and test["bleu_greedy"] > 90, test
    assert test["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    assert test["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")
    assert test["sentences"] == 300 and test["pairs"] == 300
    for name in ("samples_test.md", "translations_test.tsv", "attention_test_0.png"):
        assert (run_dir / name).is_file()


def test_the_split_files_hold_what_was_scored(run_dir):
    test = read_tsv(run_dir / "split" / "test.tsv")
    valid = read_tsv(run_dir / "split" / "valid.tsv")
    assert len(test) == 300 and not set(test.source) & set(valid.source)
    rows = [line.split("\t") for line in
            (run_dir / "translations_test.tsv").read_text().splitlines()[1:]]  # fmt: skip
    assert sorted(zip(test.source, test.target)) == sorted((r[0], r[1]) for r in rows)


def test_saved_run_translates_as_it_did_in_training(run_dir):
    run = load_run(TASK, run_dir)
    rows = [line.split("\t") for line in
            (run_dir / "translations_test.tsv").read_text().splitlines()[1:41]]  # fmt: skip
    again = translate_texts(run.model, run.state, [r[0] for r in rows], run.config.decode)
    assert again == [r[2] for r in rows]


@pytest.mark.slow
def test_evaluate_reports_what_training_reported(run_dir):
    done = rnnkit("translate", "evaluate", "--run", run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert json.loads(done.stdout)["bleu"] == pytest.approx(metrics["bleu"], abs=1e-9)


def test_translate_a_sentence(run_dir):
    assert translate_sentences(run_dir, text="w01 w02 w03 w04") == "w04 w03 w02 w01"


@pytest.mark.slow
def test_translate_command_text(run_dir):
    done = rnnkit("translate", "translate", "--run", run_dir, "--text", "w01 w02 w03 w04")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "w04 w03 w02 w01"


def test_translate_a_file(run_dir, tmp_path):
    (tmp_path / "in.txt").write_text("w05 w06 w07\nw10 w11 w12 w13 w14\n")
    said = translate_sentences(run_dir, input=tmp_path / "in.txt", output=tmp_path / "out.txt",
                               beam_size=1)  # fmt: skip
    assert said == f"wrote 2 translations to {tmp_path / 'out.txt'}"
    assert (tmp_path / "out.txt").read_text() == "w07 w06 w05\nw14 w13 w12 w11 w10\n"


def test_unknown_words_are_translated_not_refused(run_dir):
    # "w99" was never seen (its pieces were); "Ω" is a character never seen (-> <unk>)
    out = translate_sentences(run_dir, text="w01 w99 Ω w03")
    assert out.split()[0] == "w03", out


def test_an_output_unknown_becomes_the_source_text_it_attends_to():
    pairs = token_pairs("copy", 200, seed=0)
    tok = SubwordTokenizer.train([*pairs.source, "w01 x w02"], 60)
    source = "w01 Ω w02"
    pieces, _ = tok.pieces(source)
    at = pieces.index("<unk>")
    ids = tok.encode(["w02 x w01"])[0]
    ids[ids.index(tok.tokenizer.token_to_id("x"))] = UNK  # the model wrote <unk> there ...
    align = [at] * len(ids)  # ... attending to the source's unknown character
    assert detokenize(ids, align, source, tok, tok) == "w02 Ω w01"
    assert detokenize(ids, align, source, tok, tok, replace_unknown=False) == "w02 <unk> w01"


def test_scores_count_pairs_against_one_reference_and_sentences_against_all():
    sources = ["Run!", "Run!", "I am cold, very cold today.", "Hi."]
    references = ["Cours !", "Courez !", "J'ai froid, très froid aujourd'hui.", "Salut."]
    hypotheses = ["Courez !", "Courez !", "J'ai froid, très froid aujourd'hui.", "Salut."]
    pairs = corpus_scores(hypotheses, references)
    assert 0 < pairs["bleu"] < 100 and 0 < pairs["chrf"] < 100
    assert pairs["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    perfect = corpus_scores(references, references)
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    assert perfect["length_ratio"] == 1.0
    # one row per source sentence, scored against all of its translations: "Courez !" matches
    multi, signature = multi_reference_bleu(
        ["Courez !", "J'ai froid, très froid aujourd'hui.", "Salut."],
        [["Cours !", "Courez !"], ["J'ai froid, très froid aujourd'hui."], ["Salut."]],
    )
    assert multi == pytest.approx(100) and signature.startswith("nrefs:var|")
    buckets = length_buckets(hypotheses, references, sources)
    assert set(buckets) == {"1-5", "6-10"}
    assert buckets["1-5"]["pairs"] == 3 and buckets["6-10"] == {"bleu": pytest.approx(100),
                                                                "pairs": 1}  # fmt: skip


def test_an_empty_line_to_translate_gets_one_clean_error(run_dir, tmp_path):
    (tmp_path / "gap.txt").write_text("w01 w02\n\nw03\n")
    done = rnnkit("translate", "translate", "--run", run_dir, "--input", tmp_path / "gap.txt")
    assert f"{tmp_path / 'gap.txt'}: line 2: empty line" in one_clean_error(done, 1)


@pytest.mark.slow
def test_bad_files_to_score_get_one_clean_error(run_dir, tmp_path):
    (tmp_path / "latin1.tsv").write_bytes(b"w01\tw01\nw02 caf\xe9\tw02\n")
    done = rnnkit("translate", "evaluate", "--run", run_dir, "--data", tmp_path / "latin1.tsv")
    assert f"{tmp_path / 'latin1.tsv'}: line 2: not UTF-8 text" in one_clean_error(done, 1)
    (tmp_path / "notab.tsv").write_text("w01\tw01\nw02 w02\n")
    done = rnnkit("translate", "evaluate", "--run", run_dir, "--data", tmp_path / "notab.tsv")
    assert f"{tmp_path / 'notab.tsv'}: line 2: no tab" in one_clean_error(done, 1)


def test_fra_eng_split_holds_every_source_sentence_in_one_part(shared_datasets):
    splits, info = load_splits(TranslateData(data_dir=str(shared_datasets)))
    sources = {name: set(pairs.source) for name, pairs in splits.items()}
    assert not sources["train"] & sources["validation"]
    assert not sources["train"] & sources["test"]
    assert not sources["validation"] & sources["test"]
    assert info["sentences"]["validation"] == info["sentences"]["test"] == 5000
    assert sum(info["pairs"].values()) == info["cleaning"]["kept"]
    for pairs in splits.values():  # at most 15 words a side
        assert max(len(s.split(" ")) for s in (*pairs.source, *pairs.target)) <= 15


def test_score_with_a_beam_of_one_scores_as_greedy(run_dir):
    scores = json.loads(score_file(run_dir, run_dir / "split" / "valid.tsv", beam_size=1))
    assert scores["decode"]["beam_size"] == 1 and scores["decoding"] == "beam"
    assert scores["bleu"] == scores["bleu_greedy"] and scores["pairs"] == 300
