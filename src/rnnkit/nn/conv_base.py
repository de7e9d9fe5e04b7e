"""The base of the convolutional recurrent cells: weights, "same" convolutions, norms, checks.

:class:`ConvRecurrentCell` holds what :class:`~rnnkit.nn.ConvLSTMCell` and
:class:`~rnnkit.nn.ConvGRUCell` share (see :mod:`rnnkit.nn.conv_cells` for the equations and
shapes): ``weight_ih`` (G * C_h, C_in, *k), ``weight_hh`` (G * C_h, C_h, *k), the biases, the
normalisation gains, the hoisted input convolution (:meth:`ConvRecurrentCell.project_input`),
the one-step ``forward`` on frames and the channel-wise recurrent dropout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import RecurrentCell, State, _check_probability, _check_size

Norm = Literal["none", "layer", "group"]
InputConv = Literal["auto", "hoisted", "per-step"]
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _as_tuple(name: str, value: int | Sequence[int], dims: int) -> tuple[int, ...]:
    """An int or a sequence of ``dims`` positive ints -> a tuple of ``dims`` ints."""
    values = (value,) * dims if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    ok = len(values) == dims and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    )
    if not ok:
        raise ValueError(
            f"{name} must be a positive integer or {dims} of them (dims={dims}), got {value!r}"
        )
    return values


class ConvRecurrentCell(RecurrentCell):
    """What the convolutional cells share: weights, "same" convolutions, norms, shape checks.

    Subclasses set ``num_gates`` and implement :meth:`step` (and may fold biases differently in
    :meth:`project_input` through ``fold_hidden_bias``).
    """

    num_gates: int
    fold_hidden_bias: bool = True

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
        super().__init__()
        if dims not in (1, 2, 3):
            raise ValueError(f"dims must be 1, 2 or 3 (spatial dimensions), got {dims!r}")
        _check_size("in_channels", in_channels)
        _check_size("hidden_channels", hidden_channels)
        _check_probability("recurrent_dropout", recurrent_dropout)
        if norm not in ("none", "layer", "group"):
            raise ValueError(f"norm must be 'none', 'layer' or 'group', got {norm!r}")
        _check_size("norm_groups", norm_groups)
        if norm == "group" and hidden_channels % norm_groups:
            raise ValueError(
                f"norm_groups={norm_groups} must divide hidden_channels={hidden_channels}"
            )
        self.spatial_dims = dims
        self.kernel_size = _as_tuple("kernel_size", kernel_size, dims)
        self.dilation = _as_tuple("dilation", dilation, dims)
        self.input_size, self.hidden_size = in_channels, hidden_channels
        self.bias, self.norm = bias, norm
        self.norm_groups = norm_groups if norm == "group" else 1
        self.recurrent_dropout = float(recurrent_dropout)
        factory = {"device": device, "dtype": dtype}
        G = self.num_gates * hidden_channels
        self.weight_ih = nn.Parameter(torch.empty(G, in_channels, *self.kernel_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_channels, *self.kernel_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G, **factory))
            self.bias_hh = nn.Parameter(torch.empty(G, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if norm != "none":
            self.norm_ih = nn.Parameter(torch.empty(G, **factory))
            self.norm_hh = nn.Parameter(torch.empty(G, **factory))

    @property
    def in_channels(self) -> int:
        return self.input_size

    @property
    def hidden_channels(self) -> int:
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Conv weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases and peepholes 0; gains 1."""
        for name, p in self.named_parameters(recurse=False):
            if name in ("weight_ih", "weight_hh"):
                fan_in = p.shape[1] * math.prod(p.shape[2:])
                nn.init.uniform_(p, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))
            elif name.startswith("norm_") and not name.endswith("bias"):
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def extra_repr(self) -> str:
        k = self.kernel_size[0] if len(set(self.kernel_size)) == 1 else self.kernel_size
        s = f"{self.input_size}, {self.hidden_size}, kernel_size={k}, dims={self.spatial_dims}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if not self.bias:
            s += ", bias=False"
        if self.norm != "none":
            s += f", norm={self.norm!r}"
        if self.norm == "group":
            s += f", norm_groups={self.norm_groups}"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        return s

    # ------------------------------------------------------------------------------- the maths
    def _conv(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``weight * x`` with "same" padding: (B, C, *S) -> (B, G * C_h, *S).

        The total padding of an axis is ``dilation * (kernel - 1)``, half before (rounded
        down) and the rest after, as ``padding="same"`` in torch; an uneven split is padded
        explicitly.
        """
        conv = _CONV[self.spatial_dims]
        totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
        if all(t % 2 == 0 for t in totals):
            return conv(x, weight, bias, padding=[t // 2 for t in totals], dilation=self.dilation)
        pads = [p for t in reversed(totals) for p in (t // 2, t - t // 2)]  # last axis first
        return conv(F.pad(x, pads), weight, bias, dilation=self.dilation)

    def _normed(self, term: Tensor, gain: Tensor, groups: int) -> Tensor:
        """Group norm over (channels of a group, *S) per sample, times a per-channel gain.

        ``layer`` is one group over all channels; ``group`` uses ``norm_groups`` groups per gate
        block, so that no group mixes two gates.
        """
        return F.group_norm(term, groups, gain, None, 1e-5)

    def project_input(self, x: Tensor) -> Tensor:
        """``W_ih * x`` (+ biases) of every frame at once: (..., C_in, *S) -> (..., G * C_h, *S).

        Recurrent calls it on (L, N, C_in, *S): one convolution over the L * N frames.
        """
        self._check_input(x)
        d = self.spatial_dims
        lead, frame = x.shape[: -d - 1], x.shape[-d - 1 :]
        flat = x.reshape(-1, *frame)
        bias = None
        if self.bias:
            bias = self.bias_ih + self.bias_hh if self.fold_hidden_bias else self.bias_ih
        if self.norm == "none":
            out = self._conv(flat, self.weight_ih, bias)
        else:
            out = self._normed(self._conv(flat, self.weight_ih), self.norm_ih, self._gate_groups)
            if bias is not None:
                out = out + bias.view(-1, *([1] * d))
        return out.view(*lead, *out.shape[1:])

    def _check_input(self, x: Tensor) -> None:
        """(..., C_in, *S) with this cell's channels (and frame size, for tied weights)."""
        d = self.spatial_dims
        if x.dim() < d + 1 or x.shape[-d - 1] != self.input_size:
            raise ValueError(
                f"input must have {self.input_size} channels before {d} spatial dimension(s) "
                f"(..., C_in, *S), got shape {tuple(x.shape)}"
            )
        self._check_frame(tuple(x.shape[-d:]))

    def _hidden_term(self, h: Tensor, include_bias: bool) -> Tensor:
        """``W_hh * h`` (+ b_hh), normalised with ``norm``: (N, C_h, *S) -> (N, G * C_h, *S)."""
        bias = self.bias_hh if include_bias else None
        if self.norm == "none":
            return self._conv(h, self.weight_hh, bias)
        out = self._normed(self._conv(h, self.weight_hh), self.norm_hh, self._gate_groups)
        return out if bias is None else out + bias.view(-1, *([1] * self.spatial_dims))

    @property
    def _gate_groups(self) -> int:
        return 1 if self.norm == "layer" else self.num_gates * self.norm_groups

    def _check_frame(self, frame: tuple[int, ...]) -> None:
        """Subclasses with weights tied to a frame size check it here."""

    # ------------------------------------------------------------------------- states and steps
    def recurrent_dropout_mask(self, batch_size: int, *, device=None, dtype=None) -> Tensor | None:
        """One channel mask (N, C_h, 1, ..., 1) per sequence, reused at every step and position."""
        p = self.recurrent_dropout
        if not (self.training and p > 0):
            return None
        shape = (batch_size, self.hidden_size) + (1,) * self.spatial_dims
        keep = torch.full(shape, 1.0 - p, device=device, dtype=dtype)
        return torch.bernoulli(keep) / (1.0 - p)

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        """One step on (N, C_in, *S) or unbatched (C_in, *S) frames.

        ``hx`` and the result: ``h`` (GRU) or ``(h, c)`` (LSTM), each (N, C_h, *S) (or without N).
        """
        d = self.spatial_dims
        if input.dim() not in (d + 1, d + 2):
            raise ValueError(
                f"input must be {d + 2}-D (N, C_in, *S) or {d + 1}-D unbatched (C_in, *S) for "
                f"dims={d}, got shape {tuple(input.shape)}"
            )
        batched = input.dim() == d + 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise ValueError(
                f"input has {x.shape[1]} channels, expected in_channels={self.input_size}"
            )
        N, frame = x.shape[0], tuple(x.shape[2:])
        if hx is None:
            state = tuple(x.new_zeros(N, s, *frame) for s in self.state_sizes)
        else:
            state = (hx,) if isinstance(hx, Tensor) else tuple(hx)
            if len(state) != len(self.state_sizes):
                raise ValueError(f"hx must hold {len(self.state_sizes)} tensors, got {len(state)}")
            state = tuple(s if batched else s.unsqueeze(0) for s in state)
            for name, s, size in zip(("h", "c"), state, self.state_sizes):
                if tuple(s.shape) != (N, size, *frame):
                    raise ValueError(
                        f"hx ({name}) must have shape {(N, size, *frame)} (N, C_h, *S), "
                        f"got {tuple(s.shape) if batched else tuple(s.shape[1:])}"
                    )
        mask = self.recurrent_dropout_mask(N, device=x.device, dtype=x.dtype)
        new = self.step(self.project_input(x), state, mask)
        if not batched:
            new = tuple(s.squeeze(0) for s in new)
        return new if len(new) > 1 else new[0]
