"""The from-scratch character-level language model learns, samples repeatably, and runs as a CLI.

Training data: tinyshakespeare from ../shared/datasets when it is there; otherwise a generated
text (the test writes its own, so it never skips). The learning criterion: after 250 steps the
smoothed loss is at least 0.8 nats/char below the text's unigram entropy (a model that learnt
only letter frequencies would sit at the entropy; observed margin on tinyshakespeare ~1.2).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit.reference.charlm import CharLM, main, smooth, unigram_entropy
from rnnkit.reference.gradcheck import numerical_gradient, relative_error

REPO = Path(__file__).resolve().parents[2]
# Same rule as tests/conftest.py's SHARED_DATASETS (not importable under --import-mode=importlib).
SHARED_DATASETS = Path(os.environ.get("RNNKIT_SHARED", REPO.parent / "shared")) / "datasets"
MARGIN = 0.8  # nats/char below the unigram entropy
LEXICON = (
    "the king queen lord lady my thy good sweet love death night day heart hand eye "
    "shall will doth hath not what come go speak hear see know blood crown"
)


def training_text() -> str:
    path = SHARED_DATASETS / "tinyshakespeare" / "input.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return generated_text()


def generated_text(n_lines: int = 3000, seed: int = 0) -> str:
    """Verse-like text from a small lexicon: learnable structure (spelling, spaces, lines)."""
    words = LEXICON.split()
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_lines):
        line = " ".join(rng.choice(words, size=rng.integers(3, 8)))
        lines.append(line.capitalize() + rng.choice([",", ".", ";", "!", "?"]))
    return "\n".join(lines) + "\n"


def test_unigram_entropy():
    assert unigram_entropy("aaaa") == 0.0
    assert unigram_entropy("abab") == pytest.approx(np.log(2), rel=1e-12)
    assert unigram_entropy("abcd" * 5) == pytest.approx(np.log(4), rel=1e-12)


def test_charlm_learns_below_unigram_entropy():
    text = training_text()
    entropy = unigram_entropy(text)
    model = CharLM.from_text(text, hidden_size=64, cell="lstm", seed=0)
    start = time.perf_counter()
    losses = model.train(
        text, steps=250, seq_len=32, batch_size=32, lr=1e-2, optimizer="adam", clip=5.0
    )
    seconds = time.perf_counter() - start
    final = smooth(losses)[-1]
    print(
        f"entropy {entropy:.3f}, first loss {losses[0]:.3f}, final smoothed {final:.3f} "
        f"nats/char, 250 steps in {seconds:.1f}s"
    )
    assert len(losses) == 250
    assert losses[0] == pytest.approx(np.log(model.vocab_size), abs=0.3)  # starts near uniform
    assert final < entropy - MARGIN
    held_out = text[-3000:]  # tinyshakespeare: 250 steps of 32 streams never reach the tail
    assert model.evaluate(held_out) < entropy - MARGIN / 2


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_and_adagrad_learn(cell):
    text = generated_text(400)
    model = CharLM.from_text(text, hidden_size=32, cell=cell, seed=0)
    losses = model.train(text, steps=60, seq_len=16, batch_size=16, lr=0.1, optimizer="adagrad")
    assert smooth(losses)[-1] < unigram_entropy(text) - 0.3


def test_sampling_is_repeatable():
    text = generated_text(200)
    model = CharLM.from_text(text, hidden_size=16, seed=0)
    model.train(text, steps=10, seq_len=16, batch_size=8)
    a = model.sample("The ", length=80, temperature=0.8, seed=123)
    b = model.sample("The ", length=80, temperature=0.8, seed=123)
    c = model.sample("The ", length=80, temperature=0.8, seed=124)
    assert a == b and a != c
    assert a.startswith("The ") and len(a) == 4 + 80
    assert set(a) <= set(model.chars)
    assert len(model.sample("", length=10, seed=0)) == 11  # a random first character, then 10


def test_loss_gradients_match_finite_differences():
    """The head's backward and its hand-off to the layer's BPTT, end to end (rel err < 1e-6)."""
    model = CharLM("abcde", hidden_size=4, cell="lstm", seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (3, 2)), rng.integers(0, 5, (3, 2))
    h0 = (rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 2, 4)))
    _, grads, _ = model.loss_and_grads(inputs, targets, h0)
    for name, p in model.params.items():
        numeric = numerical_gradient(lambda: model.loss_and_grads(inputs, targets, h0)[0], p)
        assert relative_error(grads[name], numeric) < 1e-6, name


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm', 'rnn'\], got 't"):
        CharLM("ab", cell="tcn")
    with pytest.raises(ValueError, match=r"vocab must be non-empty characters without repeats"):
        CharLM("aba")
    model = CharLM("ab", hidden_size=4)
    with pytest.raises(ValueError, match=r"text has characters outside the vocabulary: \['c'\]"):
        model.encode("abc")
    with pytest.raises(ValueError, match=r"text is too short: 10 characters give 2 per stream"):
        model.train("ab" * 5, steps=1, seq_len=8, batch_size=4)
    with pytest.raises(ValueError, match=r"optimizer must be one of"):
        model.train("ab" * 50, steps=1, seq_len=8, batch_size=2, optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"temperature must be a positive number, got 0"):
        model.sample("a", length=3, temperature=0)


def test_command_line(tmp_path, capsys):
    path = tmp_path / "verse.txt"
    path.write_text(generated_text(100), encoding="utf-8")
    flags = "--steps 4 --print-every 2 --hidden-size 8 --batch-size 4 --seq-len 16"
    main([str(path), *flags.split(), "--sample-length", "20", "--prime", "The"])
    out = capsys.readouterr().out
    assert "unigram entropy" in out and "step     2" in out and "step     4" in out
    assert "final smoothed loss" in out
    assert "--- sample ---\nThe" in out
