"""The lm task's splits (nanoGPT's and its holdout) and the two scoring protocols."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.config import resolve
from rnnkit.tasks.lm import TASK, LanguageModel, LMConfig, block_loss, stream_loss, text_split
from rnnkit.tasks.lm.data import encode_text


def test_nanogpt_split_has_nanogpts_borders_on_tinyshakespeare():
    # nanoGPT's prepare.py prints "train has 1,003,854 tokens" and "val has 111,540 tokens"
    split, vocab_end = text_split(1_115_394, "nanogpt", 0.05, 0.05)
    assert split.train == (0, 1_003_854) and split.val == (1_003_854, 1_115_394)
    assert split.test == (1_115_394, 1_115_394) and vocab_end == 1_115_394
    holdout, vocab_end = text_split(1_115_394, "nanogpt-holdout", 0.05, 0.05)
    assert holdout.val[1] == 1_003_854 and holdout.test[0] == holdout.test[1] == 1_003_854
    assert holdout.val[1] - holdout.val[0] == round(0.05 * 1_003_854)
    assert vocab_end == 1_115_394
    with pytest.raises(ValueError, match="nanogpt-holdout"):
        text_split(100, "random", 0.1, 0.1)


@pytest.fixture
def corpus(tmp_path):
    # 'Z' appears only in the last 10%: nanoGPT builds its vocabulary from the whole text
    text = "to be or not to be, that is the question\n" * 40 + "Z" * 40
    assert int(len(text) * 0.9) < len(text) - 40
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    return path, text


def config(path, split: str) -> LMConfig:
    flags = {"data.files": str(path), "data.split": split, "data.seq_len": "8"}
    return resolve(LMConfig, flags={**flags, "train.batch_size": "4"})


def test_nanogpt_split_reads_the_last_10_percent_as_validation(corpus):
    path, text = corpus
    n, a = len(text), int(len(text) * 0.9)
    data = TASK.load_data(config(path, "nanogpt"))
    assert data.state["tokens"] == {"train": a, "validation": n - a, "test": 0}
    assert data.test is None
    encoded = encode_text(config(path, "nanogpt").data)
    assert "".join(encoded.vocab.decode(encoded.parts["validation"].tolist())) == text[a:]
    assert "Z" in encoded.vocab  # from the whole text, as nanoGPT's prepare.py
    fractions = encode_text(config(path, "fractions").data)
    assert "Z" not in fractions.vocab  # the default: training split only


def test_holdout_split_never_scores_the_last_10_percent(corpus):
    path, text = corpus
    a = int(len(text) * 0.9)
    encoded = encode_text(config(path, "nanogpt-holdout").data)
    train, val = encoded.parts["train"], encoded.parts["validation"]
    assert len(train) + len(val) == a and len(encoded.parts["test"]) == 0
    assert "".join(encoded.vocab.decode(val.tolist())) == text[len(train) : a]


@pytest.fixture
def model_and_ids():
    torch.manual_seed(0)
    model = LanguageModel(7, "lstm", 4, 6, 2)
    return model, torch.randint(0, 7, (53,))


def test_one_stream_equals_one_forward_over_the_whole_text(model_and_ids):
    model, ids = model_and_ids
    with torch.no_grad():
        logits, _ = model.eval()(ids[:-1].view(1, -1))
        whole = float(F.cross_entropy(logits[0], ids[1:]))
    assert stream_loss(model, ids, rows=1, chunk=5) == pytest.approx(whole, rel=1e-5)
    assert block_loss(model, ids, block=len(ids)) == pytest.approx(whole, rel=1e-5)


def test_blocks_start_from_a_zero_state_and_cover_every_token(model_and_ids):
    model, ids = model_and_ids
    total, counted = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, 10):  # blocks of 10 predictions, the last one of 2
            x, y = ids[start : start + 10], ids[start + 1 : start + 11]
            x = x[: len(y)]
            logits, _ = model.eval()(x.view(1, -1))
            total += float(F.cross_entropy(logits[0], y, reduction="sum"))
            counted += len(y)
    assert counted == len(ids) - 1
    assert block_loss(model, ids, block=10, batch=3) == pytest.approx(total / counted, rel=1e-5)
    with pytest.raises(ValueError, match="block"):
        block_loss(model, ids, block=0)


def test_every_preset_builds_a_valid_configuration():
    for name, values in TASK.presets.items():
        cfg = resolve(LMConfig, flags={k: str(v) for k, v in values.items()})
        assert cfg.data.split == "nanogpt", name
