r"""Attention over a memory of vectors: additive (Bahdanau) and multiplicative (Luong) scores.

Shapes: N batch, S memory steps (e.g. the source words), T queries per row (1 when a decoder
steps), Q query size, M memory size, A attention size. A query :math:`q` scores every memory
vector :math:`m_s`; the scores of padded steps are set to :math:`-\infty` before the softmax, so
their weights are exactly 0 and the weights of the real steps sum to 1:

.. math::

    e_s = \mathrm{score}(q, m_s), \qquad
    a_s = \frac{\exp e_s}{\sum_{s' \le L} \exp e_{s'}} \ (s \le L), \quad a_s = 0 \ (s > L),
    \qquad c = \sum_s a_s m_s

for a row with L real memory steps. The scores:

* :class:`AdditiveAttention` (Bahdanau et al. 2015, "concat" in Luong et al. 2015):
  :math:`e_s = v^\top \tanh(W_q q + W_m m_s + b)`, with ``W_q`` (A, Q), ``W_m`` (A, M), ``b``
  and ``v`` (A,).
* :class:`DotAttention` (Luong et al. 2015, "dot"): :math:`e_s = q^\top m_s` (needs Q == M).
* :class:`GeneralAttention` (Luong et al. 2015, "general"): :math:`e_s = q^\top W m_s`, with
  ``W`` (Q, M).

Each layer's ``keys(memory)`` is the part of the score that depends on the memory alone
(``W_m m_s`` or ``W m_s``): a decoder computes it once per source and passes it back at every
step. ``forward(query, memory, mask=None, keys=None) -> (context, weights)``: ``query`` (N, Q)
or (N, T, Q), ``memory`` (N, S, M), ``mask`` (N, S) bool, True at real steps; ``context`` (N,
M) or (N, T, M), ``weights`` (N, S) or (N, T, S).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

ScoreName = Literal["additive", "dot", "general"]


class Attention(nn.Module):
    """Base of the attention layers: subclasses define :meth:`keys` and :meth:`scores`."""

    def keys(self, memory: Tensor) -> Tensor:
        """The memory's share of the scores, computed once per memory: (N, S, ·)."""
        return memory

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Raw scores (N, T, S) of queries (N, T, Q) against precomputed ``keys``."""
        raise NotImplementedError

    def forward(
        self, query: Tensor, memory: Tensor, mask: Tensor | None = None, keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (N, T, Q)
        k = self.keys(memory) if keys is None else keys
        e = self.scores(q, k)  # (N, T, S)
        if mask is not None:
            e = e.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(e, dim=-1)  # (N, T, S); exactly 0 where masked
        context = torch.bmm(weights, memory)  # (N, T, M)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights


class AdditiveAttention(Attention):
    r"""Bahdanau's additive score :math:`v^\top \tanh(W_q q + W_m m_s + b)`.

    Args:
        query_size: Q.
        memory_size: M.
        attention_size: A, the hidden size of the score's one-layer network.
    """

    def __init__(self, query_size: int, memory_size: int, attention_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_size, attention_size, bias=False)  # W_q
        self.memory = nn.Linear(memory_size, attention_size)  # W_m, b
        self.v = nn.Linear(attention_size, 1, bias=False)  # v

    def keys(self, memory: Tensor) -> Tensor:
        return self.memory(memory)  # (N, S, A)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.query(query).unsqueeze(2) + keys.unsqueeze(1))  # (N, T, S, A)
        return self.v(hidden).squeeze(-1)  # (N, T, S)


class DotAttention(Attention):
    r"""Luong's dot score :math:`q^\top m_s`; query and memory vectors have the same size."""

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(
                f"dot attention needs queries and memory of one size, got {query.shape[-1]} "
                f"and {keys.shape[-1]}"
            )
        return torch.bmm(query, keys.transpose(1, 2))  # (N, T, S)


class GeneralAttention(Attention):
    r"""Luong's general score :math:`q^\top W m_s`.

    Args:
        query_size: Q.
        memory_size: M.
    """

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.weight = nn.Linear(memory_size, query_size, bias=False)  # W (Q, M)

    def keys(self, memory: Tensor) -> Tensor:
        return self.weight(memory)  # (N, S, Q)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (N, T, S)


def make_attention(
    score: str, query_size: int, memory_size: int, attention_size: int = 0
) -> Attention:
    """An attention layer by score name: ``"additive"`` (needs ``attention_size``), ``"dot"``
    (needs ``query_size == memory_size``) or ``"general"``."""
    if score == "additive":
        if attention_size < 1:
            raise ValueError(f"additive attention needs attention_size >= 1, got {attention_size}")
        return AdditiveAttention(query_size, memory_size, attention_size)
    if score == "dot":
        if query_size != memory_size:
            raise ValueError(
                f"dot attention needs query_size == memory_size, got {query_size} and {memory_size}"
            )
        return DotAttention()
    if score == "general":
        return GeneralAttention(query_size, memory_size)
    raise ValueError(f"score must be one of 'additive', 'dot', 'general', got {score!r}")
