r"""Convolutional recurrent cells: ConvLSTM (Shi et al., 2015) and ConvGRU, over 1, 2 or 3-D frames.

The state of a convolutional cell is a stack of feature maps, and every product of a fully
connected cell becomes a convolution (``*``) with "same" padding, so the state keeps the frame
size. With ``dims`` spatial dimensions (1: (W,), 2: (H, W), 3: (D, H, W); Keras' ConvLSTM1D/2D/3D)
the shapes are, for one step:

* input x: (N, C_in, *S), state h (and c): (N, C_h, *S), where S is the frame size;
* run by :class:`~rnnkit.nn.Recurrent` (or :class:`~rnnkit.nn.ConvLSTM`): input (L, N, C_in, *S)
  (batch first: (N, L, C_in, *S)), output (L, N, D * C_h, *S), final states
  (num_layers * D, N, C_h, *S). Bidirectional outputs are concatenated along the channels.

Every gate comes from one convolution per step (the gates' kernels are stacked along the
output channels), not one per gate. Where the input's convolution is done is a choice
(``input_conv``):

* ``"hoisted"``: :meth:`project_input` convolves the input of *all* steps in one call
  (``W_ih * x`` for the L * N frames at once) and :meth:`step` convolves h alone — fewer,
  larger calls, which is what pays on a GPU;
* ``"per-step"`` (ConvLSTM without ``norm``): :meth:`step` convolves the concatenation
  ``[x_t, h]`` with ``[W_ih, W_hh]`` — one larger convolution per step and none before the
  loop (``benchmarks/convlstm_speed.py`` times the two);
* ``"auto"`` (default): per-step on CPU, hoisted elsewhere.

The choices compute the same layer (``tests/nn/test_conv_cells.py`` runs both against an
unrolled per-gate loop).

Weights (gate blocks of C_h output channels, in torch's order: LSTM i, f, g, o; GRU r, z, n),
with G the number of gates and k the kernel size (per spatial dimension):

* ``weight_ih`` (G * C_h, C_in, *k), ``weight_hh`` (G * C_h, C_h, *k);
* ``bias_ih``, ``bias_hh`` (G * C_h,) when ``bias``;
* peepholes (LSTM, ``peephole=True``): ``weight_ci``, ``weight_cf``, ``weight_co`` (C_h, *P), with
  P = ``frame_size`` (Shi et al.'s Hadamard weights, one per unit and position) or all ones
  (one weight per channel, shared over positions, when no frame size is given);
* normalisation (``norm="layer"`` or ``"group"``): gains ``norm_ih``, ``norm_hh`` (G * C_h,) on
  the two pre-activation terms, and for LSTM ``norm_c_weight``, ``norm_c_bias`` (C_h,) on c'.

Initialisation: convolution weights as ``torch.nn.Conv*d`` (U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
fan_in = channels * prod(k)); biases 0 except the LSTM forget gate's ``bias_ih`` block, 1 (as
Keras' ``unit_forget_bias``); peepholes 0; gains 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import State
from .conv_base import ConvRecurrentCell, InputConv, Norm, _as_tuple

__all__ = ["ConvGRUCell", "ConvLSTMCell", "ConvRecurrentCell", "InputConv", "Norm"]


class ConvLSTMCell(ConvRecurrentCell):
    r"""Convolutional LSTM cell (Shi et al., 2015), in torch's gate order i, f, g, o.

    .. math::
        i = \sigma(W_{ii} * x + W_{hi} * h + w_{ci} \odot c + b_i) \qquad
        f = \sigma(W_{if} * x + W_{hf} * h + w_{cf} \odot c + b_f)

        g = \tanh(W_{ig} * x + W_{hg} * h + b_g) \qquad
        c' = f \odot c + i \odot g

        o = \sigma(W_{io} * x + W_{ho} * h + w_{co} \odot c' + b_o) \qquad
        h' = o \odot \tanh(c')

    ``*`` is a convolution with "same" padding, ⊙ the element-wise product; the peephole terms
    (``w_c·``) are there only with ``peephole=True``; b = b_ih + b_hh. With ``norm`` the terms
    ``W_i· * x`` and ``W_h· * h`` are each normalised (layer or group norm, per-channel gains)
    and ``tanh(GN(c'))`` replaces ``tanh(c')``.

    Args:
        in_channels: C_in.  hidden_channels: C_h.
        kernel_size: an int or ``dims`` ints (odd or even; padding is "same").
        dims: spatial dimensions, 1, 2 or 3.
        bias: use b_ih and b_hh.  dilation: of both convolutions.
        peephole: add Shi et al.'s peephole connections from the cell state.
        frame_size: (``dims`` ints) with ``peephole``: one peephole weight per unit and position,
            as in the paper (the cell then only runs on frames of this size); None: one per
            channel.
        norm: ``"none"``, ``"layer"`` or ``"group"`` (``norm_groups`` groups per gate).
        recurrent_dropout: dropout of whole channels of ``h`` entering ``W_hh``, one mask per
            sequence.
        input_conv: ``"auto"``, ``"hoisted"`` or ``"per-step"`` (see the module docstring;
            ``norm`` needs the two terms apart, so it is always hoisted). Results are the same.

    Shapes: input (N, C_in, *S); hx and output a tuple (h, c), each (N, C_h, *S).
    """

    num_gates = 4

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        dims: int = 2,
        *,
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
            in_channels, hidden_channels, kernel_size, dims, bias=bias, dilation=dilation,
            norm=norm, norm_groups=norm_groups, recurrent_dropout=recurrent_dropout,
            device=device, dtype=dtype,
        )  # fmt: skip
        if input_conv not in ("auto", "hoisted", "per-step"):
            raise ValueError(
                f"input_conv must be 'auto', 'hoisted' or 'per-step', got {input_conv!r}"
            )
        if input_conv == "per-step" and norm != "none":
            raise ValueError(
                f"input_conv='per-step' convolves [x, h] together; norm={norm!r} normalises "
                "the two terms apart: use input_conv='hoisted' (or 'auto')"
            )
        self.input_conv = input_conv
        if frame_size is not None and not peephole:
            raise ValueError("frame_size sizes the peephole weights: give it with peephole=True")
        self.peephole = peephole
        self.frame_size = None if frame_size is None else _as_tuple("frame_size", frame_size, dims)
        factory = {"device": device, "dtype": dtype}
        if peephole:
            shape = (hidden_channels, *(self.frame_size or (1,) * dims))
            for name in ("weight_ci", "weight_cf", "weight_co"):
                setattr(self, name, nn.Parameter(torch.empty(shape, **factory)))
        if norm != "none":
            self.norm_c_weight = nn.Parameter(torch.empty(hidden_channels, **factory))
            self.norm_c_bias = nn.Parameter(torch.empty(hidden_channels, **factory))
        self.state_sizes = (hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias:
            with torch.no_grad():
                self.bias_ih[self.hidden_size : 2 * self.hidden_size] = 1.0  # forget gate

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.input_conv != "auto":
            s += f", input_conv={self.input_conv!r}"
        if self.peephole:
            s += ", peephole=True" + (f", frame_size={self.frame_size}" if self.frame_size else "")
        return s

    def _check_frame(self, frame: tuple[int, ...]) -> None:
        if self.frame_size is not None and frame != self.frame_size:
            raise ValueError(
                f"frames are {frame}, but the peephole weights were made for "
                f"frame_size={self.frame_size}"
            )

    def per_step(self, device: torch.device) -> bool:
        """Whether the input is convolved with h at every step (else hoisted) on ``device``."""
        if self.norm != "none":
            return False
        return self.input_conv == "per-step" or (self.input_conv == "auto" and device.type == "cpu")

    def project_input(self, x: Tensor) -> Tensor:
        """Hoisted: ``W_ih * x + b`` of every frame at once (..., C_in, *S) -> (..., 4 C_h, *S);
        per step: ``x`` itself, checked (the step convolves it with h)."""
        if self.per_step(x.device):
            self._check_input(x)
            return x
        return super().project_input(x)

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        """x_proj from :meth:`project_input` ((N, 4 C_h, *S) hoisted, (N, C_in, *S) per
        step); state (h, c) -> (h', c')."""
        h, c = state
        if h_mask is not None:
            h = h * h_mask
        if self.per_step(x_proj.device):  # one convolution of [x_t, h]: all 4 gates, both terms
            weight = torch.cat([self.weight_ih, self.weight_hh], dim=1)
            bias = self.bias_ih + self.bias_hh if self.bias else None
            gates = self._conv(torch.cat([x_proj, h], dim=1), weight, bias)
        else:  # one convolution of h: all 4 gates
            gates = x_proj + self._hidden_term(h, include_bias=False)
        # chunk, not slices: the backward of a slice fills a zero tensor of the whole gates
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)
        if self.peephole:
            a_i, a_f = a_i + self.weight_ci * c, a_f + self.weight_cf * c
        i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
        c = f * c + i * g
        o = torch.sigmoid(a_o + self.weight_co * c if self.peephole else a_o)
        if self.norm != "none":
            c_out = F.group_norm(c, self.norm_groups, self.norm_c_weight, self.norm_c_bias, 1e-5)
            return o * torch.tanh(c_out), c
        return o * torch.tanh(c), c


class ConvGRUCell(ConvRecurrentCell):
    r"""Convolutional GRU cell, torch's GRU formulation (reset applied after the convolution).

    .. math::
        r = \sigma(W_{ir} * x + b_{ir} + W_{hr} * h + b_{hr}) \qquad
        z = \sigma(W_{iz} * x + b_{iz} + W_{hz} * h + b_{hz})

        n = \tanh(W_{in} * x + b_{in} + r \odot (W_{hn} * h + b_{hn})) \qquad
        h' = (1 - z) \odot n + z \odot h

    Applying r after the convolution (as ``torch.nn.GRU`` does; Ballas et al., 2016 apply it
    before) lets one convolution of h per step give all three gates.

    Args: as :class:`ConvLSTMCell`, without the peepholes.
    Shapes: input (N, C_in, *S); hx and output h (N, C_h, *S).
    """

    num_gates = 3
    fold_hidden_bias = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        dims: int = 2,
        *,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        norm: Norm = "none",
        norm_groups: int = 1,
        recurrent_dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels, hidden_channels, kernel_size, dims, bias=bias, dilation=dilation,
            norm=norm, norm_groups=norm_groups, recurrent_dropout=recurrent_dropout,
            device=device, dtype=dtype,
        )  # fmt: skip
        self.state_sizes = (hidden_channels,)
        self.reset_parameters()

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        """x_proj (N, 3 C_h, *S) from :meth:`project_input`; state (h,) -> (h',)."""
        (h,) = state
        h_in = h * h_mask if h_mask is not None else h
        hp = self._hidden_term(h_in, include_bias=True)  # (N, 3 C_h, *S): W_hh * h + b_hh
        x_r, x_z, x_n = x_proj.chunk(3, dim=1)
        h_r, h_z, h_n = hp.chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return (n + z * (h - n),)
