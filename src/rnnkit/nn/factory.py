"""One encoder factory for every task: a cell name and options -> a recurrent layer.

::

    rnn = make_encoder("gru", input_size=28, hidden_size=128, num_layers=2, bidirectional=True)

:data:`CellName` is the type of every task's ``model.cell`` setting, so a cell added to
:data:`ENCODERS` is offered by every task at once.
"""

from __future__ import annotations

from typing import Literal

from .layers import GRU, LSTM, RNN
from .recurrent import Recurrent

CellName = Literal["lstm", "gru", "rnn"]
ENCODERS: dict[str, type[Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def make_encoder(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    batch_first: bool = True,
    dropout: float = 0.0,
    bidirectional: bool = False,
    layer_norm: bool = False,
    recurrent_dropout: float = 0.0,
    fused: bool | str = "auto",
) -> Recurrent:
    """A stacked, optionally bidirectional ``rnnkit.nn`` layer of cell type ``cell``.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh): a key of :data:`ENCODERS`.
        input_size, hidden_size, num_layers, batch_first, dropout, bidirectional: as
            ``torch.nn.LSTM``.
        layer_norm, recurrent_dropout, fused: see :class:`rnnkit.nn.LSTM`.

    ``forward(x, hx=None, lengths=None) -> (output, state)`` with ``output`` (N, L, D*H) when
    ``batch_first`` (else (L, N, D*H)); ``state`` is ``h_n`` or ``(h_n, c_n)`` (LSTM).
    """
    if cell not in ENCODERS:
        raise ValueError(f"cell must be one of {sorted(ENCODERS)}, got {cell!r}")
    return ENCODERS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        layer_norm=layer_norm,
        recurrent_dropout=recurrent_dropout,
        fused=fused,
    )
