r"""Stacked minimal-RNN blocks, as Feng et al. (2024) stack minGRU/minLSTM layers.

A minimal layer's gates read only its input, so a single layer cannot mix information across
time in its gates; depth does that, and the paper stacks pre-norm residual blocks, each a
minimal RNN and a feed-forward layer (the transformer block with the attention replaced):

.. math::
    u = W_{in} x_t \qquad
    u \leftarrow u + \operatorname{MinRNN}(\operatorname{LN}(u)) \qquad
    u \leftarrow u + W_2\,\operatorname{GELU}(W_1 \operatorname{LN}(u)) \qquad
    y_t = \operatorname{LN}(u)

repeated ``num_layers`` times before the final norm; W_1 is (m H, H) with ``expansion`` m.
Shapes as :class:`rnnkit.nn.MinGRU`: input (L, N, H_in) or (N, L, H_in) with ``batch_first``;
output (., ., H); state ``h_n`` (num_layers, N, H), one row per block's recurrence. Lengths mask
each block's recurrence (padding never enters a real step's state); the outputs at padded steps
are not meaningful, as for packed sequences.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import MinGRU, MinLSTM

_LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}


class MinimalBlocks(nn.Module):
    """``num_layers`` residual blocks of LayerNorm → minGRU/minLSTM and LayerNorm → MLP.

    Args:
        input_size, hidden_size: H_in and H (the residual stream's width).
        num_layers: blocks.
        cell: ``"mingru"`` or ``"minlstm"``.
        expansion: the MLP's hidden width as a multiple of H (the paper's 4).
        dropout: on each block's two branches before the residual sum.
        batch_first, fused: as :class:`rnnkit.nn.MinGRU` (``fused=False`` steps the cells).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 2,
        cell: str = "mingru",
        expansion: int = 4,
        dropout: float = 0.0,
        batch_first: bool = False,
        fused: bool | str = "auto",
    ) -> None:
        super().__init__()
        if cell not in _LAYERS:
            raise ValueError(f"cell must be one of {sorted(_LAYERS)}, got {cell!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.hidden_size, self.num_layers, self.batch_first = hidden_size, num_layers, batch_first
        self.proj_in = nn.Linear(input_size, hidden_size)
        self.rnn_norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers))
        self.rnns = nn.ModuleList(
            _LAYERS[cell](hidden_size, hidden_size, fused=fused) for _ in range(num_layers)
        )
        self.mlp_norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(
                nn.Linear(hidden_size, expansion * hidden_size),
                nn.GELU(),
                nn.Linear(expansion * hidden_size, hidden_size),
            )
            for _ in range(num_layers)
        )
        self.drop = nn.Dropout(dropout)
        self.norm_out = nn.LayerNorm(hidden_size)

    def forward(
        self, x: Tensor, hx: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``x`` (L, N, H_in) (``batch_first``: (N, L, H_in)), ``hx`` (num_layers, N, H) or
        None, ``lengths`` (N,) or None → output of the same layout with H features, ``h_n``."""
        if self.batch_first:
            x = x.transpose(0, 1)
        u = self.proj_in(x)
        states = []
        for k in range(self.num_layers):
            h0 = None if hx is None else hx[k : k + 1]
            out, h_n = self.rnns[k](self.rnn_norms[k](u), h0, lengths=lengths)
            u = u + self.drop(out)
            u = u + self.drop(self.mlps[k](self.mlp_norms[k](u)))
            states.append(h_n)
        y = self.norm_out(u)
        return (y.transpose(0, 1) if self.batch_first else y), torch.cat(states)
