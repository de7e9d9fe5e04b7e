"""Recurrent cells and layers in PyTorch.

Cells (one step, own their weights): :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`, and
the base :class:`RecurrentCell` for your own. Layers (own time): :class:`Recurrent` for any cell,
and :class:`RNN`, :class:`LSTM`, :class:`GRU`, which dispatch to torch's fused kernels when the
options allow; :func:`make_encoder` builds any of them from a cell name; :func:`record_steps`
keeps every step's state and gradient (gradients through time). Names, shapes, gate
order and state dicts are those of ``torch.nn``. Minimal RNNs, whose gates read the input
alone, so that a layer runs as a scan over time: :class:`MinGRU`, :class:`MinLSTM` (cells
:class:`MinGRUCell`, :class:`MinLSTMCell`), stacked as the paper does by
:class:`MinimalBlocks`. For tagging: :class:`CRF`, a linear-chain
conditional random field with scheme constraints (:func:`allowed_transitions`), and
:class:`LockedDropout` (one dropout mask per sequence). For encoder-decoders: attention
over a memory (:class:`AdditiveAttention`, :class:`DotAttention`, :class:`GeneralAttention`).
Over frames (1, 2 or 3-D): :class:`ConvLSTMCell`, :class:`ConvGRUCell` and their layers
:class:`ConvLSTM`, :class:`ConvGRU` (:func:`make_conv_encoder` by name).
"""

from .attention import AdditiveAttention, Attention, DotAttention, GeneralAttention, make_attention
from .cells import GRUCell, LSTMCell, RecurrentCell, RNNCell
from .conv_cells import ConvGRUCell, ConvLSTMCell, ConvRecurrentCell
from .conv_layers import ConvGRU, ConvLSTM
from .crf import CRF, allowed_transitions
from .dropout import LockedDropout
from .factory import (
    CONV_ENCODERS,
    ENCODERS,
    CellName,
    ConvCellName,
    make_conv_encoder,
    make_encoder,
)
from .layers import GRU, LSTM, RNN, MinGRU, MinLSTM
from .minimal import MinGRUCell, MinLSTMCell
from .minimal_blocks import MinimalBlocks
from .recurrent import DirectionRecord, Recurrent, StepRecord, record_steps, reverse_padded

__all__ = [
    "CONV_ENCODERS",
    "ConvCellName",
    "ConvGRU",
    "ConvGRUCell",
    "ConvLSTM",
    "ConvLSTMCell",
    "ConvRecurrentCell",
    "make_conv_encoder",
    "AdditiveAttention",
    "Attention",
    "CRF",
    "ENCODERS",
    "CellName",
    "DirectionRecord",
    "DotAttention",
    "GRU",
    "GRUCell",
    "GeneralAttention",
    "LSTM",
    "LSTMCell",
    "LockedDropout",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "MinimalBlocks",
    "RNN",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "StepRecord",
    "allowed_transitions",
    "make_attention",
    "make_encoder",
    "record_steps",
    "reverse_padded",
]
