"""The Elman RNN scan: :class:`_RNNScan` (one autograd node for the whole sequence,
hand-written BPTT, time loops in torch ops, tanh or relu) and the entry point :func:`_rnn_scan`.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..cells import RNNCell, State
from .common import (
    _alive_steps,
    _carry,
    _gain_grads,
    _grad_new,
    _grad_old,
    _layer_norm,
    _layer_norm_grad,
    _output_grads,
    _per_step,
    _recurrent_weight_grad,
    _stack_stats,
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
    """

    @staticmethod
    def forward(ctx, x, h0, mask, alive, w_hh, g_hh, eps, relu):
        L, N, H = x.shape
        ln = g_hh is not None
        new = x.new_empty
        h_new = new(L, N, H)
        a_raw = new(L, N, H) if ln else None  # LN: W_hh h_in before its layer norm
        a_stats = []  # LN: (mean, rstd) of W_hh h_in, per step
        h_in = new(L, N, H) if mask is not None else None
        h_st = new(L, N, H) if alive is not None else h_new
        h_new_, a_raw_, h_in_, h_st_, alive_ = _per_step(L, h_new, a_raw, h_in, h_st, alive)
        w_t, one = w_hh.t(), x.new_ones(())
        h = h0
        for t, x_t in enumerate(x.unbind(0)):
            hin = h if mask is None else torch.mul(h, mask, out=h_in_[t])
            if ln:
                a, *stats = _layer_norm(torch.mm(hin, w_t, out=a_raw_[t]), g_hh, None, eps)
                pre = torch.add(x_t, a, out=h_new_[t])
                a_stats.append(stats)
            else:
                pre = torch.addmm(x_t, hin, w_t, out=h_new_[t])
            pre.relu_() if relu else _tanh(pre, out=pre, one=one)
            h = _carry(alive_[t], h_new_[t], h, out=h_st_[t])
        ctx.relu = relu
        a_mean, a_rstd = _stack_stats(a_stats) if ln else (None, None)
        ctx.save_for_backward(h0, mask, alive, w_hh, g_hh, a_raw, a_mean, a_rstd, h_new, h_in, h_st)
        out = h_new if alive is None else h_new * alive
        return out, h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        h0, mask, alive, w_hh, g_hh, a_raw, a_mean, a_rstd, h_new, h_in, h_st = ctx.saved_tensors
        L, N, H = h_new.shape
        ln = g_hh is not None
        new = h_new.new_empty
        if ctx.relu:
            d_act = (h_new > 0).to(h_new.dtype)
        else:
            d_act = torch.addcmul(h_new.new_ones(()), h_new, h_new, value=-1)  # 1 - h'^2

        d_pre = new(L, N, H)  # = d x_proj
        d_a_ = []  # LN: d (W_hh h_in) of every step, last step first
        d_pre_, d_act_, a_raw_, a_mean_, a_rstd_ = _per_step(L, d_pre, d_act, a_raw, a_mean, a_rstd)
        alive_, alive_f_ = _alive_steps(alive, L, h_new.dtype)
        d_out_ = _output_grads(d_out, alive)
        d_h = d_hT  # gradient w.r.t. the state after step t
        for t in reversed(range(L)):
            dh = d_out_[t] + _grad_new(d_h, alive_f_[t])
            torch.mul(dh, d_act_[t], out=d_pre_[t])
            if ln:
                d_a_.append(
                    _layer_norm_grad(d_pre_[t], a_raw_[t], a_mean_[t], a_rstd_[t], g_hh, None)
                )
            dh_prev = torch.mm(d_a_[-1] if ln else d_pre_[t], w_hh)
            if mask is not None:
                dh_prev.mul_(mask)
            d_h = _grad_old(dh_prev, d_h, alive_[t])

        d_a = torch.stack(d_a_[::-1]) if ln else d_pre  # d (W_hh h_in)
        d_w_hh = _recurrent_weight_grad(d_a, h0, h_st, h_in) if ctx.needs_input_grad[4] else None
        d_g_hh = _gain_grads(d_pre, a_raw, a_mean, a_rstd, g_hh, None)[0] if ln else None
        return d_pre, d_h, None, None, d_w_hh, d_g_hh, None, None


def _rnn_scan(cell: RNNCell, x_proj, state: State, mask, alive) -> tuple[Tensor, State]:
    (h0,) = state
    ln = cell.layer_norm
    out, h = _RNNScan.apply(
        x_proj,
        h0,
        mask,
        alive,
        cell.weight_hh,
        cell.ln_hh.weight if ln else None,
        cell.ln_hh.eps if ln else 0.0,
        cell.nonlinearity == "relu",
    )
    return out, (h,)
