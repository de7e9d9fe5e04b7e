r"""The first-order linear recurrence :math:`h_t = a_t \odot h_{t-1} + b_t`, three ways.

Minimal RNNs (:mod:`rnnkit.nn.minimal`) compute their gates from the input alone, so the only
thing left in the time loop is this element-wise recurrence. Shapes: a, b and the result
(L, N, H); h0 (N, H). All three functions give the same h (to rounding) and gradients for a, b
and h0:

* :func:`compiled_scan` — one vectorised pass over time in C++ (:mod:`rnnkit.nn.kernels`), the
  backward pass beside it: :math:`g_t = \partial\ell/\partial h_t + a_{t+1} g_{t+1}`,
  :math:`\partial\ell/\partial b_t = g_t`, :math:`\partial\ell/\partial a_t = g_t h_{t-1}`. The
  fastest path on a CPU.
* :func:`log_scan` — the parallel scan in log space (Heinsen 2023): with
  :math:`a^*_t = \sum_{s \le t} \log a_s`,

  .. math::
      h_t = e^{a^*_t} h_0 + \exp\Big(a^*_t + \operatorname{logcumsumexp}_{s \le t}
      (\log b_s - a^*_s)\Big)

  all in torch ops (any device). It needs :math:`a_t > 0`, :math:`b_t > 0` and takes their
  logarithms. In float32, :math:`a^*_t` grows like t, and adding it to the logcumsumexp loses
  about :math:`|a^*_t| \cdot 2^{-24}` relative precision; the scan therefore runs over chunks of
  ``chunk`` steps and carries the state between chunks with the same recurrence.
* :func:`step_scan` — the plain loop over time in torch ops: the reference the others are
  tested against, and the right thing for one step (generation).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .kernels import compiled


def step_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """h (L, N, H) by the loop ``h = a[t] * h + b[t]``."""
    out, h = [], h0
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        h = torch.addcmul(b_t, a_t, h)
        out.append(h)
    return torch.stack(out)


class _CompiledScan(torch.autograd.Function):
    """:func:`compiled_scan` as one autograd node; its loops are in ``csrc/linear_scan.cpp``."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        kernels = compiled()
        a, h0 = a.contiguous(), h0.contiguous()
        h = kernels.linear_scan_forward(a, b.contiguous(), h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, d_h: Tensor):
        a, h, h0 = ctx.saved_tensors
        d_a, d_b, d_h0 = compiled().linear_scan_backward(d_h.contiguous(), a, h, h0)
        return d_a, d_b, d_h0


def compiled_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """h (L, N, H) by the compiled loops; needs :func:`rnnkit.nn.kernels.usable` on ``a``."""
    return _CompiledScan.apply(a, b, h0)


def log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor, chunk: int = 64) -> Tensor:
    """h (L, N, H) from log a, log b (L, N, H) and h0 (N, H) (any sign), chunk by chunk.

    A step that must leave the state unchanged (past a sequence's end) has log a = 0 and a
    very negative log b (see :data:`NO_INPUT`), not -inf, whose gradient would be NaN.
    """
    L = log_a.shape[0]
    C = min(chunk, L)
    pad = (-L) % C
    if pad:  # steps that change nothing, so that L divides into chunks
        log_a = torch.cat((log_a, log_a.new_zeros(pad, *log_a.shape[1:])))
        log_b = torch.cat((log_b, log_b.new_full((pad, *log_b.shape[1:]), NO_INPUT)))
    K = log_a.shape[0] // C
    log_a = log_a.reshape(K, C, *log_a.shape[1:])
    log_b = log_b.reshape(K, C, *log_b.shape[1:])
    a_star = log_a.cumsum(1)  # within each chunk
    local = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, 1))  # h of each chunk from 0
    decay = torch.exp(a_star)  # what is left of the state that entered the chunk
    starts, h = [], h0
    for k in range(K):  # carry the state across the chunks: K = L / C small steps
        starts.append(h)
        h = torch.addcmul(local[k, -1], decay[k, -1], h)
    h = torch.addcmul(local, decay, torch.stack(starts).unsqueeze(1))
    return h.reshape(K * C, *h.shape[2:])[:L]


NO_INPUT = -1e4
"""log b of a step that adds nothing: exp(-1e4) is 0 in every floating-point type."""
