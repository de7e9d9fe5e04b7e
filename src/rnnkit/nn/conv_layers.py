"""``ConvLSTM`` and ``ConvGRU``: :class:`~rnnkit.nn.Recurrent` over the convolutional cells.

::

    layer = ConvLSTM(1, 64, kernel_size=3, dims=2, num_layers=2, batch_first=True)
    clips = torch.rand(8, 10, 1, 64, 64)          # (N, L, C_in, H, W)
    output, (h_n, c_n) = layer(clips)             # (8, 10, 64, 64, 64), (2, 8, 64, 64, 64) x 2

They are the generic layer with a convolutional cell, so stacking, ``bidirectional`` (outputs
concatenated along the channels), ``lengths`` (a right-padded batch of shorter clips), initial
and final states, dropout between layers, truncated BPTT in the engine and
:meth:`~rnnkit.nn.Recurrent.recording` all work as for :class:`~rnnkit.nn.LSTM`.

Shapes (S the frame size, ``dims`` axes: (W,), (H, W) or (D, H, W)):

* input: (L, N, C_in, *S); (N, L, C_in, *S) with ``batch_first``; unbatched (L, C_in, *S);
* hx: ``(h_0, c_0)`` (ConvLSTM) or ``h_0`` (ConvGRU), each (num_layers * D, N, C_h, *S);
* output: (L, N, D * C_h, *S) (batch first like the input), the last layer's h at every step;
* state: ``(h_n, c_n)`` or ``h_n``, each (num_layers * D, N, C_h, *S).

State-dict names follow torch's layers: ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .conv_cells import ConvGRUCell, ConvLSTMCell, InputConv, Norm
from .recurrent import Recurrent


class _ConvRecurrent(Recurrent):
    """A stack of one convolutional cell type; builds the cells from the shared arguments."""

    cell_class: type

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        dims: int = 2,
        num_layers: int = 1,
        *,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **cell_options: Any,
    ) -> None:
        def make_cell(channels: int):
            return self.cell_class(channels, hidden_channels, kernel_size, dims, **cell_options)

        super().__init__(make_cell, in_channels, num_layers, batch_first, dropout, bidirectional)

    def extra_repr(self) -> str:
        cell = self.cells[0]
        k = cell.kernel_size[0] if len(set(cell.kernel_size)) == 1 else cell.kernel_size
        parts = [
            f"{self.input_size}, {self.hidden_size}, kernel_size={k}, dims={cell.spatial_dims}"
        ]
        rest = super().extra_repr().split(", ", 2)[2:]  # after "input_size, hidden_size"
        return ", ".join(parts + rest)


class ConvLSTM(_ConvRecurrent):
    """Stacked, optionally bidirectional ConvLSTM (Shi et al., 2015) over 1, 2 or 3-D frames.

    Args:
        in_channels: C_in.  hidden_channels: C_h (per direction).
        kernel_size: an int or ``dims`` ints; padding is "same".
        dims: spatial dimensions of a frame: 1, 2 or 3 (Keras' ConvLSTM1D/2D/3D).
        num_layers, batch_first, dropout, bidirectional: as ``torch.nn.LSTM``.
        bias, dilation, peephole, frame_size, norm, norm_groups, recurrent_dropout, input_conv:
            see :class:`~rnnkit.nn.ConvLSTMCell`.

    Shapes: see the module docstring. ``forward(input, hx=None, lengths=None) ->
    (output, (h_n, c_n))``.
    """

    cell_class = ConvLSTMCell

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        dims: int = 2,
        num_layers: int = 1,
        *,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        peephole: bool = False,
        frame_size: Sequence[int] | None = None,
        norm: Norm = "none",
        norm_groups: int = 1,
        recurrent_dropout: float = 0.0,
        input_conv: InputConv = "auto",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels, hidden_channels, kernel_size, dims, num_layers,
            batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, bias=bias,
            dilation=dilation, peephole=peephole, frame_size=frame_size, norm=norm,
            norm_groups=norm_groups, recurrent_dropout=recurrent_dropout,
            input_conv=input_conv, device=device, dtype=dtype,
        )  # fmt: skip


class ConvGRU(_ConvRecurrent):
    """Stacked, optionally bidirectional ConvGRU over 1, 2 or 3-D frames.

    Args: as :class:`ConvLSTM`, without the peepholes (see :class:`~rnnkit.nn.ConvGRUCell`).
    ``forward(input, hx=None, lengths=None) -> (output, h_n)``.
    """

    cell_class = ConvGRUCell

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        dims: int = 2,
        num_layers: int = 1,
        *,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        norm: Norm = "none",
        norm_groups: int = 1,
        recurrent_dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels, hidden_channels, kernel_size, dims, num_layers,
            batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, bias=bias,
            dilation=dilation, norm=norm, norm_groups=norm_groups,
            recurrent_dropout=recurrent_dropout, device=device, dtype=dtype,
        )  # fmt: skip
