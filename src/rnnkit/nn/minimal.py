r"""Minimal RNN cells (Feng et al. 2024, "Were RNNs All We Needed?"): gates from the input alone.

A minimal cell drops every hidden-to-hidden weight, so a step is the element-wise recurrence
:math:`h_t = a_t \odot h_{t-1} + b_t` with a_t, b_t computed from x_t only. A layer computes them
for all steps in one matmul and runs the recurrence by a scan over time
(:mod:`rnnkit.nn.linear_scan`), not step by step; generation still steps, with the same weights.

:class:`MinGRUCell` (gates z, h̃; ``weight_ih`` (2H, H_in), ``bias_ih`` (2H,)):

.. math::
    z_t = \sigma(W_z x_t + b_z) \qquad \tilde h_t = g(W_h x_t + b_h) \qquad
    h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

:class:`MinLSTMCell` (gates f, i, h̃; ``weight_ih`` (3H, H_in), ``bias_ih`` (3H,)), with the
forget and input gates normalised to sum to one:

.. math::
    f'_t = \frac{\sigma(k_f)}{\sigma(k_f) + \sigma(k_i)} \qquad
    h_t = f'_t \odot h_{t-1} + (1 - f'_t) \odot g(k_h)

:math:`g(x) = x + \tfrac12` for :math:`x \ge 0` and :math:`\sigma(x)` otherwise keeps the
candidate positive, as the log-space scan needs (the paper's log-space version; the same g in
every mode, so scan and steps agree). Computed stably:
:math:`f' = \sigma(\operatorname{softplus}(-k_i) - \operatorname{softplus}(-k_f))`, and in log
space :math:`\log a = -\operatorname{softplus}(\pm\cdot)`, :math:`\log g` by cases.

The cells run in :class:`rnnkit.nn.Recurrent` like any other (stacking, both directions,
lengths, packing, initial states, recording); :class:`rnnkit.nn.MinGRU` and
:class:`rnnkit.nn.MinLSTM` are those layers. Weights are initialised U(-1/sqrt(H_in),
1/sqrt(H_in)), a feed-forward layer's bound (there is no recurrent matrix to scale by H).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import RecurrentCell, State, _check_size


def g(x: Tensor) -> Tensor:
    """The candidate's activation: x + 1/2 for x >= 0, sigmoid(x) below (continuous, > 0)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """log g(x), without forming g for negative x: -softplus(-x) there."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class _MinimalCell(RecurrentCell):
    """What both minimal cells share: one input projection of ``num_gates`` blocks of H rows.

    Subclasses define :meth:`coefficients` and :meth:`log_coefficients`: a, b (or log a,
    log b) of the recurrence for every step at once, from the projected input (..., G*H).
    """

    num_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        parallel: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.state_sizes = (hidden_size,)
        #: run a layer's time loop as one scan (True) or cell step by cell step (False)
        self.parallel = parallel
        rows = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **factory))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.input_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        (h,) = state
        a, b = self.coefficients(x_proj)
        return (torch.addcmul(b, a, h),)

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class MinGRUCell(_MinimalCell):
    r"""minGRU: :math:`h' = (1 - z) \odot h + z \odot g(k_h)`, :math:`z = \sigma(k_z)`.

    Args: ``input_size`` H_in, ``hidden_size`` H, ``bias``; ``parallel`` (see
    :class:`_MinimalCell`). Weights (gate order z, h̃): ``weight_ih`` (2H, H_in),
    ``bias_ih`` (2H,). State: h (N, H).
    """

    num_gates = 2

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_z, k_h = k.chunk(2, -1)
        z = torch.sigmoid(k_z)
        return 1 - z, z * g(k_h)

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_z, k_h = k.chunk(2, -1)
        return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)


class MinLSTMCell(_MinimalCell):
    r"""minLSTM: :math:`h' = f' \odot h + (1 - f') \odot g(k_h)`, f' the normalised forget gate.

    Args: ``input_size`` H_in, ``hidden_size`` H, ``bias``; ``parallel`` (see
    :class:`_MinimalCell`). Weights (gate order f, i, h̃): ``weight_ih`` (3H, H_in),
    ``bias_ih`` (3H,). State: h (N, H) (the cell state is the hidden state).
    """

    num_gates = 3

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, k_h = k.chunk(3, -1)
        f = torch.sigmoid(F.softplus(-k_i) - F.softplus(-k_f))  # sigma(k_f) / (sigma(k_f) + ..)
        return f, (1 - f) * g(k_h)

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, k_h = k.chunk(3, -1)
        d = F.softplus(-k_i) - F.softplus(-k_f)
        return -F.softplus(-d), -F.softplus(d) + log_g(k_h)
