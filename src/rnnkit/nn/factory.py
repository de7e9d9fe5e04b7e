"""One encoder factory for every task: a cell name and options -> a recurrent layer.

::

    rnn = make_encoder("gru", input_size=28, hidden_size=128, num_layers=2, bidirectional=True)

:data:`CellName` is the type of every task's ``model.cell`` setting, so a cell added to
:data:`ENCODERS` is offered by every task at once.
"""

from __future__ import annotations

from typing import Literal

from .conv_layers import ConvGRU, ConvLSTM
from .layers import GRU, LSTM, RNN, MinGRU, MinLSTM
from .recurrent import Recurrent

CellName = Literal["lstm", "gru", "rnn", "mingru", "minlstm"]
ENCODERS: dict[str, type[Recurrent]] = {
    "lstm": LSTM,
    "gru": GRU,
    "rnn": RNN,
    "mingru": MinGRU,
    "minlstm": MinLSTM,
}
_MINIMAL = (MinGRU, MinLSTM)


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
        cell: ``"lstm"``, ``"gru"``, ``"rnn"`` (tanh), ``"mingru"`` or ``"minlstm"`` (the
            minimal RNNs, :class:`rnnkit.nn.MinGRU`): a key of :data:`ENCODERS`.
        input_size, hidden_size, num_layers, batch_first, dropout, bidirectional: as
            ``torch.nn.LSTM``.
        layer_norm, recurrent_dropout, fused: see :class:`rnnkit.nn.LSTM`. The minimal RNNs
            have no recurrent weights to normalise or drop: they refuse both.

    ``forward(x, hx=None, lengths=None) -> (output, state)`` with ``output`` (N, L, D*H) when
    ``batch_first`` (else (L, N, D*H)); ``state`` is ``h_n`` or ``(h_n, c_n)`` (LSTM).
    """
    if cell not in ENCODERS:
        raise ValueError(f"cell must be one of {sorted(ENCODERS)}, got {cell!r}")
    layer = ENCODERS[cell]
    if layer in _MINIMAL:
        for option, used in (("layer_norm", layer_norm), ("recurrent_dropout", recurrent_dropout)):
            if used:
                raise ValueError(f"{option} does not apply to cell {cell!r} (no recurrent weights)")
        return layer(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            fused=fused,
        )
    return layer(
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


ConvCellName = Literal["convlstm", "convgru"]
CONV_ENCODERS: dict[str, type[Recurrent]] = {"convlstm": ConvLSTM, "convgru": ConvGRU}


def make_conv_encoder(
    cell: str,
    in_channels: int,
    hidden_channels: int,
    kernel_size: int = 3,
    dims: int = 2,
    num_layers: int = 1,
    *,
    batch_first: bool = True,
    dropout: float = 0.0,
    bidirectional: bool = False,
    **cell_options,
) -> Recurrent:
    """A stacked, optionally bidirectional convolutional recurrent layer over frames.

    Args:
        cell: ``"convlstm"`` or ``"convgru"``: a key of :data:`CONV_ENCODERS`.
        in_channels, hidden_channels, kernel_size, dims, num_layers, batch_first, dropout,
            bidirectional: see :class:`rnnkit.nn.ConvLSTM`.
        cell_options: ``bias``, ``dilation``, ``norm``, ``norm_groups``, ``recurrent_dropout``
            (and for ConvLSTM ``peephole``, ``frame_size``).

    ``forward(x, hx=None, lengths=None) -> (output, state)``: x (N, L, C_in, *S) when
    ``batch_first``; output (N, L, D * C_h, *S); state ``h_n`` or ``(h_n, c_n)``.
    """
    if cell not in CONV_ENCODERS:
        raise ValueError(f"cell must be one of {sorted(CONV_ENCODERS)}, got {cell!r}")
    return CONV_ENCODERS[cell](
        in_channels,
        hidden_channels,
        kernel_size,
        dims,
        num_layers,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        **cell_options,
    )
