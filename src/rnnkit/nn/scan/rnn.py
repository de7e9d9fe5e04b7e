"""The Elman RNN scan: :class:`_RNNScan` (one autograd node for the whole sequence,
hand-written BPTT, tanh or relu), its time loops in torch ops (the compiled loops of
:mod:`rnnkit.nn.kernels` serve instead where they can) and the entry point :func:`_rnn_scan`.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..cells import RNNCell, State
from ..kernels import compiled, usable
from .common import (
    _alive_steps,
    _carry,
    _gain_grads,
    _grad_new,
    _grad_old,
    _layer_norm,
    _layer_norm_grad,
    _per_step,
    _recurrent_weight_grad,
    _tanh,
)


class _RNNScan(torch.autograd.Function):
    r"""Elman RNN over a whole sequence (b_hh is already in ``x_proj``).

    Inputs: x = x_proj (L, N, H), h0 (N, H), mask, alive, w_hh (H, H), g_hh (H,) | None,
    eps, relu. Outputs: (L, N, H), h_n (N, H).

    Forward, per step: :math:`h' = \phi(x + a)` with ``a = h_in W_hh^T`` (LN:
    ``LN_g(h_in W_hh^T)``), φ = tanh or relu. Backward: ``d pre = dh' φ'`` (1 - h'^2, or
    [h' > 0]), ``dh = (d pre W_hh) * mask`` (LN: d pre through LN backward first); then
    ``d x = d pre``, ``d W_hh = sum_t da_t^T h_in_t``.

    Both time loops run in C++ (``rnn_forward``/``rnn_backward`` of :mod:`rnnkit.nn.kernels`)
    wherever the kernels serve; :func:`_rnn_forward_ops` and :func:`_rnn_backward_ops` are the
    same loops in torch ops.
    """

    @staticmethod
    def forward(ctx, x, h0, mask, alive, w_hh, g_hh, eps, relu):
        h_new, a_raw, a_mean, a_rstd, h_in, h_st, h_n = _rnn_forward(
            x, h0, mask, alive, w_hh, g_hh, eps, relu
        )
        ctx.relu = relu
        ctx.save_for_backward(h0, mask, alive, w_hh, g_hh, a_raw, a_mean, a_rstd, h_new, h_in, h_st)
        return (h_new if alive is None else h_new * alive), h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        h0, mask, alive, w_hh, g_hh, a_raw, a_mean, a_rstd, h_new, h_in, h_st = ctx.saved_tensors
        kernels = compiled() if usable(h_new) else None
        loop = _rnn_backward_ops if kernels is None else kernels.rnn_backward
        d_out = d_out if alive is None else d_out * alive  # outputs are h' * alive
        d_pre, d_h, d_a = loop(
            d_out, d_hT, mask, alive, w_hh, g_hh, h_new, a_raw, a_mean, a_rstd, ctx.relu
        )
        d_w_hh = _recurrent_weight_grad(d_a, h0, h_st, h_in) if ctx.needs_input_grad[4] else None
        d_g_hh = None
        if g_hh is not None:
            d_g_hh = _gain_grads(d_pre, a_raw, a_mean, a_rstd, g_hh, None)[0]
        return d_pre, d_h, None, None, d_w_hh, d_g_hh, None, None


def _rnn_forward(*args, keep: bool = True) -> tuple:
    """The forward loop: compiled where the kernels serve, else in torch ops. Returns h_new,
    a_raw, a_mean, a_rstd (LN), h_in (mask), h_st, h_n; ``keep=False`` keeps no per-step
    buffers but h_new (inference)."""
    kernels = compiled() if usable(args[0]) else None
    loop = _rnn_forward_ops if kernels is None else kernels.rnn_forward
    return loop(*args, keep)


def _rnn_forward_ops(x, h0, mask, alive, w_hh, g_hh, eps, relu, keep):
    """The forward loop of :class:`_RNNScan` in torch ops; returns what ``rnn_forward`` does."""
    L, N, H = x.shape
    ln = g_hh is not None
    slots = L if keep else min(L, 2)
    new = x.new_empty
    h_new = new(L, N, H)
    a_raw = new(slots, N, H) if ln else None  # LN: W_hh h_in before its layer norm
    a_mean = new(slots, N, 1) if ln else None
    a_rstd = new(slots, N, 1) if ln else None
    h_in = new(slots, N, H) if mask is not None else None
    h_st = new(slots, N, H) if alive is not None else h_new
    h_new_, a_raw_, a_mean_, a_rstd_, h_in_, h_st_, alive_ = _per_step(
        L, h_new, a_raw, a_mean, a_rstd, h_in, h_st, alive
    )
    w_t, one = w_hh.t(), x.new_ones(())
    h = h0
    for t, x_t in enumerate(x.unbind(0)):
        hin = h if mask is None else torch.mul(h, mask, out=h_in_[t])
        if ln:
            a, mean, rstd = _layer_norm(torch.mm(hin, w_t, out=a_raw_[t]), g_hh, None, eps)
            a_mean_[t].copy_(mean), a_rstd_[t].copy_(rstd)
            pre = torch.add(x_t, a, out=h_new_[t])
        else:
            pre = torch.addmm(x_t, hin, w_t, out=h_new_[t])
        pre.relu_() if relu else _tanh(pre, out=pre, one=one)
        h = _carry(alive_[t], h_new_[t], h, out=h_st_[t])
    return h_new, a_raw, a_mean, a_rstd, h_in, h_st, h.clone()


def _rnn_backward_ops(d_out, d_hT, mask, alive, w_hh, g_hh, h_new, a_raw, a_mean, a_rstd, relu):
    """The backward loop of :class:`_RNNScan` in torch ops; returns what ``rnn_backward`` does:
    d pre (L, N, H) (= d x), d h0 (N, H), d a (L, N, H) (d pre itself without LN)."""
    L, N, H = h_new.shape
    ln = g_hh is not None
    new = h_new.new_empty
    if relu:
        d_act = (h_new > 0).to(h_new.dtype)
    else:
        d_act = torch.addcmul(h_new.new_ones(()), h_new, h_new, value=-1)  # 1 - h'^2
    d_pre = new(L, N, H)
    d_a = new(L, N, H) if ln else d_pre
    d_pre_, d_a_, d_act_, a_raw_, a_mean_, a_rstd_ = _per_step(
        L, d_pre, d_a, d_act, a_raw, a_mean, a_rstd
    )
    alive_, alive_f_ = _alive_steps(alive, L, h_new.dtype)
    d_out_ = list(d_out.unbind(0))
    d_h = d_hT  # gradient w.r.t. the state after step t
    for t in reversed(range(L)):
        dh = d_out_[t] + _grad_new(d_h, alive_f_[t])
        torch.mul(dh, d_act_[t], out=d_pre_[t])
        if ln:
            d_a_[t].copy_(
                _layer_norm_grad(d_pre_[t], a_raw_[t], a_mean_[t], a_rstd_[t], g_hh, None)
            )
        dh_prev = torch.mm(d_a_[t], w_hh)
        if mask is not None:
            dh_prev.mul_(mask)
        d_h = _grad_old(dh_prev, d_h, alive_[t])
    return d_pre, d_h, d_a


def _rnn_scan(cell: RNNCell, x_proj, state: State, mask, alive) -> tuple[Tensor, State]:
    (h0,) = state
    ln = cell.layer_norm
    args = (
        x_proj,
        h0,
        mask,
        alive,
        cell.weight_hh,
        cell.ln_hh.weight if ln else None,
        cell.ln_hh.eps if ln else 0.0,
        cell.nonlinearity == "relu",
    )
    if torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
        out, h = _RNNScan.apply(*args)
    else:  # nothing to differentiate: keep no per-step buffers for a backward pass
        h_new, *_, h = _rnn_forward(*args, keep=False)
        out = h_new if alive is None else h_new * alive
    return out, (h,)
