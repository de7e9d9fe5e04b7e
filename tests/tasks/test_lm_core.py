"""Language-model pieces that do not need the engine: model, streams, TBPTT, sampling, prompts."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.config import resolve
from rnnkit.data.text import Tokenizer, Vocabulary
from rnnkit.tasks.lm import (
    TASK,
    LanguageModel,
    LMConfig,
    count_parameters,
    encode_prompt,
    generate_ids,
    generate_text,
    sample_next,
    token_stream,
    unigram_entropy,
)
from rnnkit.tasks.lm.data import stream_targets
from rnnkit.train import Context, collect
from rnnkit.train.tbptt import detach_state


def small_model(cell="lstm", **kwargs) -> LanguageModel:
    options = dict(embedding_size=8, hidden_size=16, num_layers=2, dropout=0.1) | kwargs
    return LanguageModel(11, cell, **options).eval()


def test_token_stream_lays_out_parallel_streams_in_order():
    stream = token_stream(torch.arange(26), batch_size=3, seq_len=3)
    # targets 1..25 in 3 rows of 8 (the tail is dropped): inputs 0..7, 8..15, 16..23
    assert len(stream) == 3 and stream_targets(stream) == 24
    first = stream[0]
    assert first["x"].tolist() == [[0, 1, 2], [8, 9, 10], [16, 17, 18]]
    assert torch.equal(first["y"], first["x"] + 1)
    last = stream[2]  # the short last chunk
    assert last["x"].tolist() == [[6, 7], [14, 15], [22, 23]]


def test_text_shorter_than_one_batch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"training split has 20 tokens, fewer than one batch"):
        token_stream(torch.arange(20), batch_size=4, seq_len=8, what="training split")
    with pytest.raises(ValueError, match="validation split has 1 tokens"):
        token_stream(torch.arange(1), 4, 8, "validation split", training=False)
    small = token_stream(torch.arange(12), batch_size=4, seq_len=8, training=False)
    assert small.batch_size == 1 and stream_targets(small) == 11


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_stateful_tbptt_equals_one_pass(cell):
    """The logits at the start of chunk k+1, with the state carried, equal a single pass's."""
    model = small_model(cell)
    stream = token_stream(torch.randint(0, 11, (200,)), batch_size=4, seq_len=7)
    full_logits, _ = model(stream.rows["x"])  # (4, 49, V): every row in one pass
    state, pieces = None, []
    for j in range(len(stream)):
        logits, state = model(stream[j]["x"], state)
        state = detach_state(state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full_logits, rtol=1e-5, atol=1e-5)
    # without the carried state the second chunk differs
    fresh, _ = model(stream[1]["x"])
    assert not torch.allclose(fresh[:, 0], full_logits[:, 7], atol=1e-4)


def test_weight_tying_needs_equal_sizes_and_shares_the_matrix():
    tied = LanguageModel(11, embedding_size=16, hidden_size=16, num_layers=1, tie_weights=True)
    untied = LanguageModel(11, embedding_size=16, hidden_size=16, num_layers=1)
    assert tied.head.weight is tied.embedding.weight
    assert count_parameters(untied) - count_parameters(tied) == 11 * 16
    with pytest.raises(ValueError, match="tie_weights needs embedding_size == hidden_size"):
        LanguageModel(11, embedding_size=8, hidden_size=16, tie_weights=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        LanguageModel(11, cell="transformer")
    assert "rnnkit cells" in repr(LanguageModel(11, layer_norm=True).rnn)


def _context(level: str) -> Context:
    return Context(resolve(LMConfig), {"tokenizer": {"level": level}}, "validation")


def test_metrics_and_unigram_entropy():
    tokens = {"nll": torch.tensor([100 * math.log(2)]).double(), "tokens": torch.tensor([100])}
    assert TASK.metrics(tokens, _context("char"))["bits_per_char"] == pytest.approx(1.0)
    tokens["nll"] = torch.tensor([100 * math.log(50)]).double()
    assert TASK.metrics(tokens, _context("word"))["perplexity"] == pytest.approx(50.0)
    assert unigram_entropy(torch.tensor([0, 1, 2, 3])) == pytest.approx(math.log(4))
    nats, _ = collect(TASK, small_model(), token_stream(torch.randint(0, 11, (300,)), 4, 16), 4)
    assert abs(nats - math.log(11)) < 0.5  # an untrained model is near uniform


def test_sampling_is_seedable_and_temperature_zero_is_greedy():
    model = small_model()
    a = generate_ids(model, [1, 2, 3], 40, temperature=1.0, seed=7)
    assert a == generate_ids(model, [1, 2, 3], 40, temperature=1.0, seed=7)
    assert a != generate_ids(model, [1, 2, 3], 40, temperature=1.0, seed=8)
    greedy = generate_ids(model, [1, 2, 3], 40, temperature=0)
    assert generate_ids(model, [1, 2, 3], 40, temperature=1e-4, seed=1) == greedy
    assert generate_ids(model, [1, 2, 3], 40, top_k=1, seed=2) == greedy
    assert generate_ids(model, [1, 2, 3], 40, top_p=1e-6, seed=3) == greedy
    assert 0 not in generate_ids(model, [1], 200, temperature=5.0, seed=0, banned=[0])


def test_top_k_and_top_p_restrict_the_candidates():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]]).repeat(2000, 1)
    g = torch.Generator().manual_seed(0)
    assert set(sample_next(logits, top_k=2, generator=g).tolist()) == {0, 1}
    p = logits[0].softmax(-1)  # 0.64, 0.24, 0.09, ...: 0.64 < 0.8 <= 0.64 + 0.24
    assert p[0] < 0.8 <= p[0] + p[1]
    assert set(sample_next(logits, top_p=0.8, generator=g).tolist()) == {0, 1}
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        generate_ids(small_model(), [1], 3, temperature=-1)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        generate_ids(small_model(), [1], 3, top_p=1.5)


def test_prompts_unknown_characters_are_named_and_unknown_words_map_to_unk():
    chars = Tokenizer("char")
    vocab = Vocabulary.build(chars.tokenize("ROMEO:\nhello there\n"))
    with pytest.raises(ValueError, match=r"never saw in training: 'Z' \(U\+005A\), 'é'"):
        encode_prompt("ROMEZé", chars, vocab)
    assert encode_prompt("", chars, vocab) == [vocab["\n"]]
    words = Tokenizer("word", newlines=True)
    wvocab = Vocabulary.build(words.tokenize("the cat sat on the mat .\n"))
    ids = encode_prompt("the dog sat", words, wvocab)
    assert ids[1] == wvocab.unk_index
    model = LanguageModel(len(wvocab), embedding_size=8, hidden_size=8, num_layers=1)
    text = generate_text(model, words, wvocab, "the dog", 10, seed=0)
    assert text.startswith("the <unk>") and "<unk>" not in text[len("the <unk>") :]
