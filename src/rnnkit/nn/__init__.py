"""Recurrent cells and layers in PyTorch.

Cells (one step, own their weights): :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`, and
the base :class:`RecurrentCell` for your own. Layers (own time): :class:`Recurrent` for any cell,
and :class:`RNN`, :class:`LSTM`, :class:`GRU`, which dispatch to torch's fused kernels when the
options allow; :func:`make_encoder` builds any of them from a cell name. Names, shapes, gate
order and state dicts are those of ``torch.nn``.
"""

from .cells import GRUCell, LSTMCell, RecurrentCell, RNNCell
from .factory import ENCODERS, CellName, make_encoder
from .layers import GRU, LSTM, RNN
from .recurrent import Recurrent, reverse_padded

__all__ = [
    "ENCODERS",
    "CellName",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "make_encoder",
    "reverse_padded",
]
