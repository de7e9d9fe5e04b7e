"""Segment-wise recurrence with parallel multi-step decoding (SegRNN, Lin et al. 2023).

The lookback is cut into ``n = floor(L / w)`` segments of ``w`` rows (the most recent ``n * w``
rows; a lookback that is not a multiple of ``w`` drops its oldest ``L mod w`` rows). Each segment
is embedded and the recurrent layer runs over segments instead of time steps, so a lookback of
720 hours costs 15 recurrent steps at ``w = 48``, not 720:

    e_j = ReLU(W_e x_j + b_e)                    x_j in R^{w C_in}: rows j*w ... j*w + w - 1
    h_n = RNN(e_1, ..., e_n)                     the encoder's final state (every layer)
    o_k = RNN_step(p_k; h_n)                     k = 1 ... m = ceil(H / w), all k in parallel
    y_k = W_o dropout(o_k) + b_o                 y_k in R^{w C_out}: forecast rows of segment k

The decoder is the same recurrent layer run for one step from ``h_n``, fed a learnt position
embedding ``p_k`` for each output segment. The ``m`` steps share the start state and do not feed
each other, so the horizon is decoded in one batched call and errors do not accumulate from one
output segment to the next (parallel multi-step forecasting, PMF). The last ``m * w - H`` rows of
the decoded segments are dropped.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.nn import make_encoder


class SegmentRecurrent(nn.Module):
    """``forward(x) -> (N, H, C_out * Q)`` from a normalised window ``x`` of shape (N, L, C_in).

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (:func:`rnnkit.nn.make_encoder`).
        n_inputs: C_in, channels per row of ``x``.
        n_outputs: C_out * Q, values per forecast row.
        lookback, horizon: L and H.
        segment: w, rows per segment (at most L).
        hidden_size: d, the width of the segment embedding and of the recurrent state.
        num_layers, dropout: the recurrent layer's stacking and dropout between layers.
        head_dropout: dropout on the decoder's outputs before the output projection.

    Weights: ``embed`` (d, w * C_in), ``position`` (m, d) initialised N(0, 1) as in SegRNN, the
    recurrent layer's (torch names and gate order), ``head`` (w * C_out * Q, d).
    """

    def __init__(
        self,
        cell: str,
        n_inputs: int,
        n_outputs: int,
        lookback: int,
        horizon: int,
        segment: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        dropout: float = 0.0,
        head_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 1 <= segment <= lookback:
            raise ValueError(
                f"segment length must be between 1 and the lookback ({lookback}), got {segment}"
            )
        self.segment, self.horizon, self.n_outputs = segment, horizon, n_outputs
        self.n_in = lookback // segment
        self.n_out = math.ceil(horizon / segment)
        self.embed = nn.Sequential(nn.Linear(segment * n_inputs, hidden_size), nn.ReLU())
        self.rnn = make_encoder(cell, hidden_size, hidden_size, num_layers, dropout=dropout)
        self.position = nn.Parameter(torch.randn(self.n_out, hidden_size))
        self.head = nn.Sequential(
            nn.Dropout(head_dropout), nn.Linear(hidden_size, segment * n_outputs)
        )

    def forward(self, x: Tensor) -> Tensor:
        N, _, C = x.shape
        w, n, m = self.segment, self.n_in, self.n_out
        segments = x[:, x.shape[1] - n * w :].reshape(N, n, w * C)  # (N, n, w*C_in)
        _, state = self.rnn(self.embed(segments))  # h_n: (layers, N, d)
        state = _repeat_batch(state, m)  # (layers, N*m, d): window-major, segment-minor
        positions = self.position.repeat(N, 1).unsqueeze(1)  # (N*m, 1, d), same order
        out, _ = self.rnn(positions, state)  # (N*m, 1, d)
        y = self.head(out[:, 0])  # (N*m, w*C_out*Q)
        return y.reshape(N, m * w, self.n_outputs)[:, : self.horizon]


def _repeat_batch(state: Tensor | tuple[Tensor, ...], times: int):
    """Each window's state ``times`` times in a row along the batch axis (dim 1)."""
    if isinstance(state, tuple):
        return tuple(s.repeat_interleave(times, dim=1) for s in state)
    return state.repeat_interleave(times, dim=1)
