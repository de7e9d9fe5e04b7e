"""Decoding: beam search against brute force on a toy decoder, beam 1 == greedy, a batch ==
each sentence alone, and the translator's teacher-forced pass == its step-by-step pass."""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import replace

import pytest
import torch

from rnnkit.data.subwords import BOS, EOS, PAD
from rnnkit.tasks.translate import (
    TranslateModel,
    Translator,
    beam_search,
    greedy,
    length_penalty,
    max_lengths,
)

A, B, C, UNK = 4, 5, 6, 1
V = 7


@pytest.fixture(autouse=True)
def _one_thread():
    """Many tiny steps: a second thread only waits for the first (more so on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ToyMemory:
    """No source at all: the toy decoder's probabilities depend on the previous token only."""

    start = None

    def repeat(self, k: int) -> ToyMemory:
        return self


class MarkovDecoder:
    """p(y_t | y_{t-1}) from a fixed (V, V) table of log-probabilities."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table

    def step(self, tokens, state, memory):
        return self.table[tokens], state, torch.zeros(len(tokens), 1)

    @staticmethod
    def reorder(state, index):
        return state


def _table(rows: dict[int, dict[int, float]]) -> torch.Tensor:
    table = torch.full((V, V), float("-inf"))
    for prev, nxt in rows.items():
        for token, p in nxt.items():
            table[prev, token] = math.log(p)
    return table


def brute_force(table: torch.Tensor, limit: int, alpha: float) -> tuple[list[int], float]:
    """The best finished sequence (<= limit tokens, then <eos>) by the beam's score."""
    best, best_score = None, float("-inf")
    words = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    for n in range(limit + 1):
        for seq in itertools.product(words, repeat=n):
            prev, logp = BOS, 0.0
            for token in (*seq, EOS):
                logp += float(table[prev, token])
                prev = token
            score = logp / length_penalty(n + 1, alpha)
            if score > best_score:
                best, best_score = list(seq), score
    return best, best_score


def test_beam_finds_what_greedy_misses():
    # greedy takes A (0.5) then must end at 0.3: 0.15; B then <eos> is 0.4 * 0.9 = 0.36
    table = _table({
        BOS: {A: 0.5, B: 0.4, EOS: 0.1},
        A: {A: 0.25, B: 0.25, C: 0.2, EOS: 0.3},
        B: {EOS: 0.9, C: 0.1},
        C: {EOS: 1.0},
    })  # fmt: skip
    model, limits = MarkovDecoder(table), torch.tensor([4])
    assert greedy(model, ToyMemory(), limits).tokens == [[A]]
    found = beam_search(model, ToyMemory(), limits, beam_size=2)
    assert found.tokens == [[B]] and found.scores[0] == pytest.approx(math.log(0.36))


@pytest.mark.parametrize("seed, alpha", [(0, 0.0), (1, 0.6), (2, 1.0), (3, 2.0)])
def test_a_wide_beam_returns_the_exact_best_hypothesis(seed, alpha):
    g = torch.Generator().manual_seed(seed)
    table = torch.log_softmax(3 * torch.randn(V, V, generator=g), -1)
    limit = 3
    best, score = brute_force(table, limit, alpha)
    # 400 >= every prefix (4 + 16 + 64 ...) and 2 * 400 >= every extension of them
    found = beam_search(MarkovDecoder(table), ToyMemory(), torch.tensor([limit]), 400, alpha)
    assert found.tokens == [best]
    assert found.scores[0] == pytest.approx(score, abs=1e-5)


class PrefixMemory:
    """The sentence each row belongs to; ``start`` holds each row's prefix (its state)."""

    def __init__(self, sentences: list[int]) -> None:
        self.sentences = sentences
        self.start = [() for _ in sentences]

    def repeat(self, k: int) -> PrefixMemory:
        return PrefixMemory([s for s in self.sentences for _ in range(k)])


class PrefixDecoder:
    """p(y_t | sentence, y_<t): a seeded random distribution for every (sentence, prefix), so
    the search must keep each hypothesis's own state through its reordering of the rows."""

    def __init__(self, seed: int) -> None:
        self.seed, self.tables = seed, {}

    def logp(self, sentence: int, prefix: tuple[int, ...]) -> torch.Tensor:
        key = (self.seed, sentence, *prefix)
        if key not in self.tables:
            g = torch.Generator().manual_seed(zlib.crc32(repr(key).encode()))
            logits = 3 * torch.randn(V, generator=g)
            logits[EOS] -= 5  # ending early is unlikely: the best hypotheses are long ones
            self.tables[key] = torch.log_softmax(logits, -1)
        return self.tables[key]

    def step(self, tokens, state, memory):
        state = [p + (int(t),) for p, t in zip(state, tokens)]
        logp = torch.stack([self.logp(s, p) for s, p in zip(memory.sentences, state)])
        return logp, state, torch.zeros(len(tokens), 1)

    @staticmethod
    def reorder(state, index):
        return [state[i] for i in index.tolist()]


def brute_force_prefix(
    model: PrefixDecoder, sentence: int, limit: int, alpha: float
) -> tuple[list[int], float]:
    """Every sequence of at most ``limit`` words, then <eos>, scored as the beam scores."""
    best, best_score = None, float("-inf")
    words = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    for n in range(limit + 1):
        for seq in itertools.product(words, repeat=n):
            prefix, logp = (BOS,), 0.0
            for token in (*seq, EOS):
                logp += float(model.logp(sentence, prefix)[token])
                prefix += (token,)
            score = logp / length_penalty(n + 1, alpha)
            if score > best_score:
                best, best_score = list(seq), score
    return best, best_score


@pytest.mark.parametrize(
    "seed, alpha, early_stop", [(1, 1.0, False), (2, 0.0, True), (5, 1.0, True)]
)
def test_a_wide_beam_finds_the_best_of_every_sentence_of_a_batch(seed, alpha, early_stop):
    # the decoder depends on the whole prefix, and each sentence has its own length limit
    model, limits = PrefixDecoder(seed), torch.tensor([2, 4, 3])
    memory = PrefixMemory(list(range(len(limits))))
    # 400 >= every live prefix (4 ** 3 = 64 at most) and 2 * 400 >= all their extensions
    found = beam_search(model, memory, limits, 400, alpha, early_stop)
    answers = [
        brute_force_prefix(model, n, limit, alpha) for n, limit in enumerate(limits.tolist())
    ]
    assert max(len(best) for best, _ in answers) >= 3  # the oracle is not just "end at once"
    for n, (best, score) in enumerate(answers):
        assert found.tokens[n] == best
        assert found.scores[n] == pytest.approx(score, abs=1e-5)


def test_greedy_follows_the_likeliest_token_of_each_prefix():
    model, limits = PrefixDecoder(7), torch.tensor([3, 5])
    found = greedy(model, PrefixMemory([0, 1]), limits)
    for n, limit in enumerate(limits.tolist()):
        prefix, total = (BOS,), 0.0
        while True:
            logp = model.logp(n, prefix).clone()
            logp[[PAD, BOS]] = float("-inf")
            token = EOS if len(prefix) - 1 == limit else int(logp.argmax())
            total += float(logp[token])
            if token == EOS:
                break
            prefix += (token,)
        assert found.tokens[n] == list(prefix[1:])
        assert found.scores[n] == pytest.approx(total, abs=1e-5)
    assert beam_search(model, PrefixMemory([0, 1]), limits, 1).tokens == found.tokens


def _translator(**changes) -> Translator:
    torch.manual_seed(0)
    config = replace(
        TranslateModel(embedding_size=16, hidden_size=12, decoder_size=20, dropout=0.0),
        **changes,
    )
    return Translator(30, 40, config).eval()


def _sources() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    lengths = torch.tensor([7, 3, 5, 1, 6, 2])
    src = torch.randint(4, 30, (6, 7), generator=g)
    src[torch.arange(7) >= lengths[:, None]] = PAD
    src[torch.arange(6), lengths - 1] = EOS
    return src, lengths


@pytest.mark.parametrize(
    "changes",
    [{}, {"attention": "bahdanau", "score": "additive", "cell": "lstm", "input_feeding": True}],
)
def test_beam_of_one_is_greedy(changes):
    model = _translator(**changes)
    src, lengths = _sources()
    memory, limits = model.encode(src, lengths), max_lengths(lengths, 1.0)
    assert (
        beam_search(model, memory, limits, 1, alpha=1.0).tokens
        == greedy(model, memory, limits).tokens
    )


@pytest.mark.parametrize(
    "changes",
    [{}, {"attention": "bahdanau", "score": "additive", "decoder_layers": 2},
     {"cell": "lstm", "score": "dot", "decoder_size": 24, "input_feeding": True}],
)  # fmt: skip
def test_a_batch_translates_each_sentence_as_alone(changes):
    model = _translator(**changes)
    src, lengths = _sources()
    limits = max_lengths(lengths, 1.0)
    with torch.no_grad():
        batch = beam_search(model, model.encode(src, lengths), limits, 3, alpha=0.6)
        for n in range(len(src)):
            L = int(lengths[n])
            alone = beam_search(model, model.encode(src[n : n + 1, :L], lengths[n : n + 1]),
                                limits[n : n + 1], 3, alpha=0.6)  # fmt: skip
            assert alone.tokens[0] == batch.tokens[n]
            assert alone.scores[0] == pytest.approx(batch.scores[n], abs=1e-4)
            weights = batch.attention[n]
            assert torch.all(weights[:, L:] == 0)
            if len(weights):
                torch.testing.assert_close(weights.sum(-1), torch.ones(len(weights)))


def test_teacher_forcing_in_one_call_equals_stepping():
    model = _translator()
    src, lengths = _sources()
    tgt_in = torch.randint(4, 40, (6, 5), generator=torch.Generator().manual_seed(1))
    tgt_in[:, 0] = BOS
    with torch.no_grad():
        attentional, weights = model(src, lengths, tgt_in)  # the one-call path
        memory = model.encode(src, lengths)
        state = memory.start
        for t in range(tgt_in.shape[1]):
            logp, state, w = model.step(tgt_in[:, t], state, memory)
            expected = torch.log_softmax(model.logits(attentional[:, t]), -1)
            torch.testing.assert_close(logp, expected, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(w, weights[:, t], rtol=1e-5, atol=1e-6)
    padding = (torch.arange(7) >= lengths[:, None])[:, None, :].expand_as(weights)
    assert torch.all(weights[padding] == 0)


def test_scheduled_sampling_feeds_predictions_while_training():
    model = _translator(scheduled_sampling=1.0)
    src, lengths = _sources()
    tgt_in = torch.full((6, 4), BOS)
    model.train()
    torch.manual_seed(3)
    a, _ = model(src, lengths, tgt_in, sampling=1.0)
    torch.manual_seed(3)
    b, _ = model(src, lengths, tgt_in.clone().fill_(A).index_fill_(1, torch.tensor([0]), BOS),
                 sampling=1.0)  # fmt: skip
    # with sampling 1 every input after the first is the model's own guess: references unused
    torch.testing.assert_close(a, b)
