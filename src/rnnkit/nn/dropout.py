"""Dropout that keeps one mask along time: :class:`LockedDropout`.

Standard dropout draws a new mask at every step of a sequence; locked (variational) dropout
(Gal & Ghahramani 2016; Merity et al. 2018's ``LockedDropout``) draws one (N, 1, F) mask per
sequence and applies it at every step, so a unit is either dropped for the whole sentence or
kept throughout: ``y[n, t, f] = x[n, t, f] * m[n, f] / (1 - p)``, ``m ~ Bernoulli(1 - p)``.
"""

from __future__ import annotations

from torch import Tensor, nn


class LockedDropout(nn.Module):
    """``LockedDropout(p)``: (N, T, F) -> (N, T, F), one mask per sequence (batch first).

    Identity in eval mode or when ``p == 0``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 3:
            raise ValueError(f"input must be (N, T, F), got shape {tuple(x.shape)}")
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1.0 - self.p)
        return x * mask / (1.0 - self.p)
