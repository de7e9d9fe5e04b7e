r"""Greedy decoding and batched beam search for any step-wise decoder.

A decoder offers ``step(tokens (B,), state, memory) -> (log-probabilities (B, V), state,
attention (B, S))`` and ``reorder(state, index)``; its ``memory`` has a ``start`` state and
``repeat(k)`` (each sentence k times in a row). :class:`~.model.Translator` is one; the tests
use a toy decoder whose probabilities are known.

Both searches stop a sentence at ``<eos>`` or at its own maximum length (where ``<eos>`` is
forced), never produce ``<pad>`` or ``<bos>``, and treat every sentence of a batch on its own:
the source padding is masked and each sentence has its own length limit, so a sentence is
translated the same alone or in a batch.

Beam search (N sentences x K hypotheses, flattened to N*K rows) keeps, at step t, the K best
unfinished hypotheses of each sentence by their log-probability :math:`\log P(y_{1..t})`. Of the
2K best extensions, those ending with ``<eos>`` among the first K are finished and scored

.. math:: \mathrm{score}(y) = \log P(y) / \mathrm{lp}(y), \qquad
          \mathrm{lp}(y) = \left(\frac{5 + |y|}{6}\right)^{\alpha}

(Wu et al. 2016; |y| counts ``<eos>``; alpha = 0 leaves the log-probability), and the first K
that do not end become the next step's hypotheses. With ``early_stop`` a sentence is done once
it has K finished hypotheses; otherwise at its maximum length. The answer is the finished
hypothesis of best score. With K = 1 this is greedy decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.subwords import BOS, EOS, PAD


@dataclass
class Hypotheses:
    """One translation per sentence.

    Attributes:
        tokens: the ids of each, without ``<bos>`` and ``<eos>``.
        attention: for each, the attention weights (len(tokens), S) that produced its tokens
            (S: the batch's padded source length).
        scores: the search's score of each (log-probability, length-normalised for a beam).
    """

    tokens: list[list[int]]
    attention: list[Tensor]
    scores: list[float]


def max_lengths(source_lengths: Tensor, ratio: float, extra: int = 5) -> Tensor:
    """Longest translation (subwords, ``<eos>`` excluded) of each source sentence:
    ``floor(ratio * n) + extra`` for n source subwords (its ``<eos>`` excluded)."""
    return (ratio * (source_lengths - 1).clamp(min=1).double()).floor().long() + extra


def length_penalty(length: int | Tensor, alpha: float) -> Any:
    """``((5 + length) / 6) ** alpha`` (GNMT's length penalty)."""
    return ((5 + length) / 6) ** alpha


def _mask_step(logp: Tensor, at_max: Tensor, banned: tuple[int, ...]) -> Tensor:
    """Ban special ids; rows ``at_max`` may only end (``<eos>``)."""
    logp = logp.clone()
    logp[:, list(banned)] = float("-inf")
    if bool(at_max.any()):
        eos = logp[:, EOS].clone()
        logp[at_max] = float("-inf")
        logp[:, EOS] = eos
    return logp


@torch.no_grad()
def greedy(
    model: Any, memory: Any, limits: Tensor, banned: tuple[int, ...] = (PAD, BOS)
) -> Hypotheses:
    """The likeliest next token at every step, for each of N sentences with ``limits`` (N,)."""
    N = len(limits)
    state = memory.start
    tokens = torch.full((N,), BOS, dtype=torch.long, device=limits.device)
    done = torch.zeros(N, dtype=torch.bool, device=limits.device)
    scores = torch.zeros(N, dtype=torch.float64, device=limits.device)
    steps, maps = [], []
    for t in range(int(limits.max()) + 1):
        logp, state, attn = model.step(tokens, state, memory)
        logp = _mask_step(logp, t >= limits, banned)
        best, tokens = logp.max(-1)
        scores += torch.where(done, 0.0, best.double())
        tokens = torch.where(done, PAD, tokens)
        steps.append(tokens)
        maps.append(attn)
        done |= tokens == EOS
        if bool(done.all()):
            break
    ids = torch.stack(steps, 1).tolist()  # (N, t)
    weights = torch.stack(maps, 1)  # (N, t, S)
    out, attention = [], []
    for n, row in enumerate(ids):
        k = row.index(EOS)
        out.append(row[:k])
        attention.append(weights[n, :k])
    return Hypotheses(out, attention, scores.tolist())


@torch.no_grad()
def beam_search(
    model: Any,
    memory: Any,
    limits: Tensor,
    beam_size: int,
    alpha: float = 0.0,
    early_stop: bool = True,
    banned: tuple[int, ...] = (PAD, BOS),
) -> Hypotheses:
    """The best-scoring finished hypothesis of a beam of ``beam_size`` per sentence (see the
    module docstring), for N sentences with length limits ``limits`` (N,)."""
    N, K = len(limits), beam_size
    if K < 1:
        raise ValueError(f"beam_size must be >= 1, got {K}")
    device = limits.device
    memory = memory.repeat(K)
    state = memory.start
    tokens = torch.full((N * K,), BOS, dtype=torch.long, device=device)
    scores = torch.full((N, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis to start with, not K copies of it
    history = torch.zeros(N * K, 0, dtype=torch.long, device=device)
    attn_history: Tensor | None = None
    finished: list[list[tuple[float, float, list[int], Tensor]]] = [[] for _ in range(N)]
    done = torch.zeros(N, dtype=torch.bool, device=device)
    offsets = (torch.arange(N, device=device) * K).unsqueeze(1)  # (N, 1)
    for t in range(int(limits.max()) + 1):
        logp, state, attn = model.step(tokens, state, memory)  # (N*K, V), ..., (N*K, S)
        V = logp.shape[-1]
        at_max = (t >= limits).repeat_interleave(K)
        logp = _mask_step(logp, at_max, banned)
        if attn_history is None:
            attn_history = attn.new_zeros(N * K, 0, attn.shape[-1])
        candidates = (scores.view(-1, 1) + logp).view(N, K * V)
        candidates[done] = float("-inf")
        top, index = candidates.topk(min(2 * K, K * V), dim=1)  # (N, 2K)
        parent = index // V + offsets  # rows of the hypotheses extended
        token = index % V
        ends = (token == EOS) & (top > float("-inf"))
        # finish the hypotheses that end among the K best extensions
        ranks = torch.arange(top.shape[1], device=device)
        closing = ends & (ranks < K)
        if bool(closing.any()):
            lp = length_penalty(t + 1, alpha)
            rows = closing.nonzero().tolist()
            for (n, _), value, row in zip(rows, top[closing].tolist(), parent[closing].tolist()):
                finished[n].append((value / lp, value, history[row].tolist(), attn_history[row]))
        counts = torch.tensor([len(f) for f in finished], device=device)
        done |= (counts >= K) if early_stop else torch.zeros_like(done)
        done |= t >= limits
        if bool(done.all()):
            break
        # the K best extensions that go on become the next hypotheses
        go_on = ~ends & (top > float("-inf"))
        key = torch.where(go_on, ranks, ranks + top.shape[1])
        keep = key.argsort(dim=1)[:, :K]  # (N, K), in rank order
        scores = torch.where(go_on.gather(1, keep), top.gather(1, keep), float("-inf"))
        rows = parent.gather(1, keep).view(-1)  # (N*K,)
        tokens = token.gather(1, keep).view(-1)
        history = torch.cat([history[rows], tokens.unsqueeze(1)], 1)
        attn_history = torch.cat([attn_history[rows], attn[rows].unsqueeze(1)], 1)
        state = model.reorder(state, rows)
    out, attention, best_scores = [], [], []
    for n in range(N):
        score, _, ids, weights = max(finished[n], key=lambda f: f[0])
        out.append(ids)
        attention.append(weights)
        best_scores.append(score)
    return Hypotheses(out, attention, best_scores)
