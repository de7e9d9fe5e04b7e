"""The ``lm`` task through the engine: training, metrics, save/load/generate, data errors."""

from __future__ import annotations

import json
import random

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from rnnkit.config import resolve
from rnnkit.data.text import Tokenizer, Vocabulary
from rnnkit.tasks.lm import TASK, LMConfig, generate_from_run, generate_text
from rnnkit.train import RunDir, fit

SMALL = {
    "model.embedding_size": "16",
    "model.hidden_size": "48",
    "model.dropout": "0.0",
    "train.batch_size": "8",
    "data.seq_len": "32",
    "train.epochs": "3",
    "train.progress": "false",
    "train.eval_train": "false",
    "optim.lr": "0.01",
}


def make_corpus(lines: int = 400, seed: int = 0) -> str:
    """Sentences from a tiny grammar: structure a small model learns in seconds."""
    rng = random.Random(seed)
    who = ["ROMEO", "JULIET", "the king", "my lord", "a friend"]
    does = ["loves", "sees", "fears", "calls", "follows"]
    what = ["the moon", "her crown", "this night", "the sword", "my heart"]
    text = [f"{rng.choice(who)} {rng.choice(does)} {rng.choice(what)}." for _ in range(lines)]
    return "\n".join(text) + "\n"


def config(path, **flags) -> LMConfig:
    return resolve(LMConfig, flags={"data.files": str(path), **SMALL, **flags})


class KeepModel(Callback):
    """Keeps the trained module so a test can use the model the run saved."""

    def on_train_end(self, trainer, module) -> None:
        self.module = module


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    corpus = folder / "corpus.txt"
    corpus.write_text(make_corpus(), encoding="utf-8")
    keep = KeepModel()
    torch.manual_seed(0)
    result = fit(TASK, config(corpus), folder / "run", callbacks=[keep])
    return result, keep.module.model, corpus


def test_short_training_beats_the_unigram_entropy(char_run):
    result, _, corpus = char_run
    state = json.loads((result.run_dir / "checkpoints" / "best" / "task.json").read_text())
    assert state["tokens"]["train"] == pytest.approx(0.9 * len(corpus.read_text()), abs=1)
    val = result.metrics["validation"]
    assert val["loss"] < state["unigram_entropy"] - 0.5
    assert val["bits_per_char"] == pytest.approx(val["loss"] / 0.6931471805599453)
    assert "perplexity" not in val and "bits_per_char" in result.metrics["test"]
    for name in ("config.json", "metrics.json", "log.csv", "loss.png"):
        assert (result.run_dir / name).is_file()


def test_save_load_generate_gives_identical_text(char_run):
    result, model, _ = char_run
    state = json.loads((result.run_dir / "checkpoints" / "best" / "task.json").read_text())
    tokenizer = Tokenizer.from_dict(state["tokenizer"])
    vocab = Vocabulary.from_dict(state["vocabulary"])
    in_memory = generate_text(model.cpu(), tokenizer, vocab, "ROMEO", 120, 0.8, seed=5)
    loaded = generate_from_run(result.run_dir, "ROMEO", 120, 0.8, seed=5)
    assert loaded == in_memory and loaded.startswith("ROMEO")
    greedy = generate_from_run(result.run_dir, "ROMEO", 60, temperature=0)
    assert generate_from_run(result.run_dir, "ROMEO", 60, temperature=1e-5, seed=9) == greedy


def test_word_model_reports_perplexity(tmp_path):
    corpus = tmp_path / "words.txt"
    corpus.write_text(make_corpus(1500, seed=1), encoding="utf-8")
    flags = {"data.level": "word", "data.seq_len": "16", "train.epochs": "2"}
    result = fit(TASK, config(corpus, **flags), tmp_path / "run")
    test = result.metrics["test"]
    assert test["perplexity"] == pytest.approx(torch.tensor(test["loss"]).exp().item())
    assert test["perplexity"] < 10  # 23 words + punctuation and newlines; the grammar is easy
    text = generate_from_run(result.run_dir, "the king unknownword", 12, seed=0)
    assert text.startswith("the king <unk>")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"empty\.txt: the file is empty"),
        (bytes(range(256)) * 4, r"binary\.txt: looks like a binary file"),
        (b"To be, or not to be.\n", r"the train split of short\.txt has \d+ tokens, fewer than"),
    ],
    ids=["empty", "binary", "shorter-than-a-batch"],
)
def test_unusable_text_files_are_named_in_the_error(tmp_path, content, message):
    name = message.split(r"\.txt")[0].split()[-1]
    path = tmp_path / f"{name}.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        TASK.load_data(config(path))


def test_missing_validation_share_trains_on_train_loss(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_corpus(200), encoding="utf-8")
    cfg = config(corpus, **{"data.val_fraction": "0", "data.test_fraction": "0"})
    data = TASK.load_data(cfg)
    assert data.val is None and data.test is None and len(data.train) > 0
    result = fit(TASK, config(corpus, **{"data.val_fraction": "0", "data.test_fraction": "0",
                                        "train.epochs": "2", "train.eval_train": "true"}),
                 tmp_path / "run")  # fmt: skip
    metrics = result.metrics
    assert metrics["monitor"] == "train_loss" and "validation" not in metrics
    log = RunDir(result.run_dir).read_log()
    assert len(log) == 2 and log[1]["train_loss"] < log[0]["train_loss"]  # it trained


def test_split_is_the_first_90_percent_then_5_then_5(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_corpus(300), encoding="utf-8")
    data = TASK.load_data(config(corpus))
    n = sum(data.state["tokens"].values())
    assert data.state["tokens"]["train"] == round(0.9 * n)
    assert data.state["tokens"]["test"] == n - round(0.95 * n)


def test_engine_evaluation_carries_the_state_across_batches():
    """The engine's evaluation of a stream equals one pass over each whole stream."""
    from rnnkit.tasks.lm import LanguageModel, token_stream
    from rnnkit.train import Context
    from rnnkit.train.evaluation import evaluate

    model = LanguageModel(12, embedding_size=8, hidden_size=16, num_layers=2).eval()
    stream = token_stream(torch.randint(0, 12, (500,)), batch_size=4, seq_len=10)
    ctx = Context(resolve(LMConfig), {"tokenizer": {"level": "char"}}, "validation")
    metrics, _ = evaluate(TASK, model, stream, 4, ctx)
    with torch.no_grad():
        logits, _ = model(stream.rows["x"])  # (4, 124, V): each stream in one pass
        one_pass = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), stream.rows["y"].flatten()
        )
    assert metrics["loss"] == pytest.approx(float(one_pass), rel=1e-5)
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / 0.6931471805599453)


def test_engine_training_carries_the_state_like_a_hand_written_tbptt_loop(tmp_path):
    """Training through the engine equals a plain-torch stateful TBPTT loop (state carried
    across chunks, detached at each boundary), step by step; resetting the state does not."""
    from rnnkit.train import RunDir, detach_state, load_checkpoint

    corpus = tmp_path / "c.txt"
    corpus.write_text(make_corpus(200), encoding="utf-8")
    flags = {"optim.name": "sgd", "optim.momentum": "0", "optim.clip_norm": "0"}
    flags |= {"optim.schedule": "none", "train.epochs": "1", "train.early_stopping": "0"}
    cfg = config(corpus, **flags)
    fit(TASK, cfg, tmp_path / "run")
    engine_norms = [r["grad_norm"] for r in RunDir(tmp_path / "run").read_steps()]
    engine_weights = load_checkpoint(tmp_path / "run", prefer="last").weights

    def hand_loop(carry: bool) -> tuple[list[float], dict]:
        torch.manual_seed(cfg.train.seed)  # as the engine does before building the model
        data = TASK.load_data(cfg)
        model = TASK.build_model(cfg, data.state)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr)
        norms, state = [], None
        for j in range(len(data.train)):
            batch = data.train[j]
            logits, state = model(batch["x"], state if carry else None)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["y"].flatten())
            opt.zero_grad()
            loss.backward()
            grads = [p.grad for p in model.parameters()]
            norms.append(float(torch.nn.utils.get_total_norm(grads)))
            opt.step()
            state = detach_state(state)
        return norms, model.state_dict()

    norms, weights = hand_loop(carry=True)
    assert len(engine_norms) == len(norms) > 10
    assert engine_norms == pytest.approx(norms, rel=1e-4)
    for name, value in weights.items():
        torch.testing.assert_close(engine_weights[name], value, rtol=1e-4, atol=1e-6)
    reset_norms, _ = hand_loop(carry=False)
    assert engine_norms[1:] != pytest.approx(reset_norms[1:], rel=1e-4)
