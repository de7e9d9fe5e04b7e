"""The LSTM scan: :class:`_LSTMScan` (one autograd node for the whole sequence, hand-written
BPTT), its buffers, its forward and backward time loops in torch ops (the compiled loops of
:mod:`rnnkit.nn.kernels` serve instead where they can), and the entry point :func:`_lstm_scan`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..cells import LSTMCell, State
from ..kernels import compiled, usable
from .common import (
    _alive_steps,
    _carry,
    _dsigmoid,
    _dtanh,
    _flat,
    _gain_grads,
    _grad_new,
    _grad_old,
    _layer_norm,
    _layer_norm_grad,
    _per_step,
    _recurrent_weight_grad,
    _stack_stats,
    _sum_rows,
    _tanh,
    _two_sigmoid_minus_one,
    _with_states_before,
)


class _LSTMScan(torch.autograd.Function):
    r"""LSTM over a whole sequence; gate order i, f, g, o.

    Inputs: x = x_proj (L, N, 4H), h0 (N, R), c0 (N, H), mask, alive, w_hh (4H, R),
    g_hh (4H,) | None (LN gain of the recurrent term), g_c, b_c (H,) | None (LN of c'),
    w_hr (P, H) | None, eps_hh, eps_c. Outputs: (L, N, R), h_n (N, R), c_n (N, H).

    Forward, per step:

    .. math::
        a = h_{in} W_{hh}^T \;(\text{LN: } LN_{g_{hh}}(h_{in} W_{hh}^T)) \qquad
        i, f, o = \sigma(x + a)_{i,f,o} \qquad g = \tanh(x + a)_g

        c' = f \odot c + i \odot g \qquad
        m = o \odot \tanh(c') \;(\text{LN: } o \odot \tanh(LN_{g_c, b_c}(c'))) \qquad
        h' = m \;(\text{projected: } m W_{hr}^T)

    Backward, per step, with dm = dh' W_hr (projected) or dh', and k = o (1 - tanh^2):

    .. math::
        dc' = dc'_{next} + dm \odot k \;(\text{LN: } + LN_c\text{-backward}(dm \odot k \odot g_c))

        d\,pre = [dc'\, g\, i(1-i),\; dc'\, c\, f(1-f),\; dc'\, i (1-g^2),\;
                  dm \tanh(\cdot)\, o(1-o)]

        dc = dc' \odot f \qquad
        dh = (d\,pre\; W_{hh}) \odot mask \;(\text{LN: } d\,pre \text{ through } LN_{hh}
        \text{ backward first})

    Then ``d x = d pre``, ``d W_hh = sum_t da_t^T h_in_t``, ``d W_hr = sum_t dh'_t^T m_t``.

    Both time loops run in C++ (``lstm_forward``/``lstm_backward`` of :mod:`rnnkit.nn.kernels`)
    wherever the kernels serve; :func:`_lstm_forward_ops` and :func:`_lstm_backward_ops` are the
    same loops in torch ops, for every other device, dtype or machine.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, mask, alive, w_hh, g_hh, g_c, b_c, w_hr, eps_hh, eps_c):
        b = _lstm_forward(x, h0, c0, mask, alive, w_hh, g_hh, g_c, b_c, w_hr, eps_hh, eps_c)
        c_raw = b.c_new if g_hh is not None else None  # LN: c' before its layer norm
        ctx.save_for_backward(
            *(h0, c0, mask, alive, w_hh, g_hh, g_c, w_hr),
            *(b.acts, b.tanh_c, b.m, b.h_in, b.h_st, b.c_st, b.a_raw, c_raw),
            *(b.a_mean, b.a_rstd, b.c_mean, b.c_rstd),
        )
        return b.output(alive), b.h_n, b.c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT, d_cT):
        h0, c0, mask, alive, w_hh, g_hh, g_c, w_hr, *buffers = ctx.saved_tensors
        acts, tanh_c, m, h_in, h_st, c_st, a_raw, c_raw, *stats = buffers
        kernels = compiled() if usable(acts) else None
        loop = _lstm_backward_ops if kernels is None else kernels.lstm_backward
        d_out = d_out if alive is None else d_out * alive  # outputs are h' * alive
        states = (c0, mask, alive, w_hh, g_hh, g_c, w_hr)
        d_pre, d_h, d_c, d_h_new, d_m, d_a, d_g_hh, d_g_c, d_b_c = loop(
            d_out, d_hT, d_cT, *states, acts, tanh_c, c_st, a_raw, c_raw, *stats
        )
        needs = ctx.needs_input_grad
        d_w_hh = _recurrent_weight_grad(d_a, h0, h_st, h_in) if needs[5] else None
        d_w_hr = None
        if w_hr is not None and needs[9]:
            d_w_hr = _flat(d_h_new).t().mm(_flat(m))
        return d_pre, d_h, d_c, None, None, d_w_hh, d_g_hh, d_g_c, d_b_c, d_w_hr, None, None


class _LSTMBuffers(NamedTuple):
    """What the forward loop returns (None where an option is off); shapes (L, N, .)."""

    acts: Tensor  # activated gates i, f, g, o (L, N, 4H)
    c_new: Tensor  # c' (before its layer norm)
    tanh_c: Tensor  # tanh(c'), tanh(LN(c')) with layer norm
    h_new: Tensor  # h' (L, N, R)
    m: Tensor  # o * tanh(.), before the projection (h_new itself without one)
    a_raw: Tensor | None  # LN: h_in W_hh^T before its layer norm
    a_mean: Tensor | None  # LN: (L, N, 1) statistics of a_raw and of c'
    a_rstd: Tensor | None
    c_mean: Tensor | None
    c_rstd: Tensor | None
    h_in: Tensor | None  # recurrent dropout: h * mask, the input of W_hh
    h_st: Tensor  # lengths: the state after each step (h_new, c_new without lengths)
    c_st: Tensor
    h_n: Tensor  # the final state (N, R), (N, H)
    c_n: Tensor

    def output(self, alive: Tensor | None) -> Tensor:
        """The layer's output: h' of every step, zero where a step is not alive."""
        return self.h_new if alive is None else self.h_new * alive


def _lstm_forward(*args, keep: bool = True) -> _LSTMBuffers:
    """The forward loop over ``_LSTMScan``'s inputs: compiled where the kernels serve, else in
    torch ops. ``keep=False`` keeps no per-step buffers (inference)."""
    kernels = compiled() if usable(args[0]) else None
    loop = _lstm_forward_ops if kernels is None else kernels.lstm_forward
    return _LSTMBuffers(*loop(*args, keep))


def _lstm_forward_ops(x, h0, c0, mask, alive, w_hh, g_hh, g_c, b_c, w_hr, eps_hh, eps_c, keep):
    """The forward loop of :class:`_LSTMScan` in torch ops; returns what ``lstm_forward`` does,
    the fields of :class:`_LSTMBuffers` in order. Without ``keep`` (inference) only h_new, h_n
    and c_n are meaningful: the other buffers have two rotating slots instead of L steps."""
    L, N, G = x.shape
    H, R = G // 4, w_hh.shape[1]
    ln, proj = g_hh is not None, w_hr is not None
    slots = L if keep else min(L, 2)

    def new(K: int) -> Tensor:
        return x.new_empty(slots, N, K)

    acts = new(G)  # activated gates i, f, g, o
    c_new, tanh_c = new(H), new(H)  # c' and tanh(c') (tanh(LN(c')) with LN)
    h_new = x.new_empty(L, N, R)  # the output: every step, always
    m = new(H) if proj else h_new  # o * tanh(.), before the projection
    a_raw = new(G) if ln else None  # LN: W_hh h_in before its layer norm
    a_stats, c_stats = [], []  # LN: (mean, rstd) of W_hh h_in and of c', per step
    h_in = new(R) if mask is not None else None
    h_st, c_st = (new(R), new(H)) if alive is not None else (h_new, c_new)
    acts_, c_new_, tanh_c_, h_new_, m_, h_in_, h_st_, c_st_, alive_, a_raw_ = _per_step(
        L, acts, c_new, tanh_c, h_new, m, h_in, h_st, c_st, alive, a_raw
    )
    w_t = w_hh.t()
    cpu, one, two = x.device.type == "cpu", x.new_ones(()), x.new_full((), 2.0)
    h, c = h0, c0
    for t, x_t in enumerate(x.unbind(0)):
        hin = h if mask is None else torch.mul(h, mask, out=h_in_[t])
        if ln:
            a, *stats = _layer_norm(torch.mm(hin, w_t, out=a_raw_[t]), g_hh, None, eps_hh)
            gates = a.add_(x_t)
            a_stats.append(stats)
        else:
            gates = torch.addmm(x_t, hin, w_t)
        if cpu:  # g = tanh(z) = 2 sigmoid(2z) - 1: one sigmoid for all four gates
            gates[:, 2 * H : 3 * H].mul_(two)
        act = torch.sigmoid(gates, out=acts_[t])
        i, f, g, o = act.chunk(4, 1)
        if cpu:
            _two_sigmoid_minus_one(g, one)
        else:
            torch.tanh(gates[:, 2 * H : 3 * H], out=g)
        c_t = torch.mul(f, c, out=c_new_[t]).addcmul_(i, g)
        if ln:
            c_t, *stats = _layer_norm(c_t, g_c, b_c, eps_c)
            c_stats.append(stats)
        tc = _tanh(c_t, out=tanh_c_[t], one=one)
        torch.mul(o, tc, out=m_[t])
        if proj:
            torch.mm(m_[t], w_hr.t(), out=h_new_[t])
        h = _carry(alive_[t], h_new_[t], h, out=h_st_[t])
        c = _carry(alive_[t], c_new_[t], c, out=c_st_[t])
    stats = (*_stack_stats(a_stats), *_stack_stats(c_stats)) if ln else (None,) * 4
    return (acts, c_new, tanh_c, h_new, m, a_raw, *stats, h_in, h_st, c_st, h.clone(), c.clone())


def _lstm_backward_ops(d_out, d_hT, d_cT, c0, mask, alive, w_hh, g_hh, g_c, w_hr, *buffers):
    """The backward loop of :class:`_LSTMScan` in torch ops; returns what ``lstm_backward`` does:

    d_pre (= d x), d_h0, d_c0, d_h_new, d_m, d_a (d of W_hh h_in), and with LN the gradients
    of g_hh, g_c and b_c (else None). ``d_out`` is already zero where a step is dead;
    ``buffers`` are acts, tanh_c, c_st, a_raw, c_raw, a_mean, a_rstd, c_mean, c_rstd.
    """
    acts, tanh_c, c_st, a_raw, c_raw, a_mean, a_rstd, c_mean, c_rstd = buffers
    L, N, G = acts.shape
    H = G // 4
    ln, proj = g_hh is not None, w_hr is not None
    new = acts.new_empty

    # Derivative factors of every step at once: dc' -> d pre of i, f, g (L, N, 3, H),
    # dm -> d pre of o, and dm -> dc' (k).
    i, f, g, o = acts.chunk(4, 2)
    dc_to_ifg = new(L, N, 3, H)
    to_i, to_f, to_g = dc_to_ifg.unbind(2)
    _dsigmoid(g, i, out=to_i)  # g i (1 - i)
    _with_states_before(_dsigmoid, c0, c_st, f, out=to_f)  # c f (1 - f)
    _dtanh(i, g, out=to_g)  # i (1 - g^2)
    dm_to_o = _dsigmoid(tanh_c, o)  # tanh(.) o (1 - o)
    k = _dtanh(o, tanh_c)  # o (1 - tanh(.)^2)

    d_pre = new(L, N, G)  # d gates before activation, = d x_proj
    d_h_new = new(L, N, d_out.shape[2])  # dh' of every step (zero where dead)
    d_m = new(L, N, H) if proj else d_h_new
    d_a_ = []  # LN: d (W_hh h_in) of every step, last step first
    d_pre_, d_h_new_, d_m_, ifg_, o_, f_, k_ = _per_step(
        L, d_pre, d_h_new, d_m, dc_to_ifg, dm_to_o, f, k
    )
    a_raw_, a_mean_, a_rstd_, c_raw_, c_mean_, c_rstd_ = _per_step(
        L, a_raw, a_mean, a_rstd, c_raw, c_mean, c_rstd
    )
    alive_, alive_f_ = _alive_steps(alive, L, acts.dtype)
    d_out_ = d_out.unbind(0)
    d_h, d_c = d_hT, d_cT  # gradients w.r.t. the state after step t
    for t in reversed(range(L)):
        dh = torch.add(d_out_[t], _grad_new(d_h, alive_f_[t]), out=d_h_new_[t])
        dm = torch.mm(dh, w_hr, out=d_m_[t]) if proj else dh
        dc = _grad_new(d_c, alive_f_[t])
        dp = d_pre_[t]
        if ln:
            d_lc = dm * k_[t]
            dc = dc + _layer_norm_grad(d_lc, c_raw_[t], c_mean_[t], c_rstd_[t], g_c, None)
        else:
            dc = torch.addcmul(dc, dm, k_[t])
        torch.mul(dc.unsqueeze(1), ifg_[t], out=dp[:, : 3 * H].view(N, 3, H))
        torch.mul(dm, o_[t], out=dp[:, 3 * H :])
        if ln:
            d_a_.append(_layer_norm_grad(dp, a_raw_[t], a_mean_[t], a_rstd_[t], g_hh, None))
        dh_prev = torch.mm(d_a_[-1] if ln else dp, w_hh)
        if mask is not None:
            dh_prev.mul_(mask)
        d_h = _grad_old(dh_prev, d_h, alive_[t])
        d_c = _grad_old(dc * f_[t], d_c, alive_[t])

    if not ln:
        return d_pre, d_h, d_c, d_h_new, d_m, d_pre, None, None, None
    d_a = torch.stack(d_a_[::-1])
    d_g_hh, _ = _gain_grads(d_pre, a_raw, a_mean, a_rstd, g_hh, None)
    d_ln_c = d_m * k  # d LN_c(c') of every step
    d_g_c, _ = _gain_grads(d_ln_c, c_raw, c_mean, c_rstd, g_c, None)
    d_b_c = _sum_rows(d_ln_c)
    return d_pre, d_h, d_c, d_h_new, d_m, d_a, d_g_hh, d_g_c, d_b_c


def _lstm_scan(cell: LSTMCell, x_proj, state: State, mask, alive) -> tuple[Tensor, State]:
    h0, c0 = state
    ln = cell.layer_norm
    args = (
        x_proj,
        h0,
        c0,
        mask,
        alive,
        cell.weight_hh,
        cell.ln_hh.weight if ln else None,
        cell.ln_c.weight if ln else None,
        cell.ln_c.bias if ln else None,
        cell.weight_hr if cell.proj_size else None,
        cell.ln_hh.eps if ln else 0.0,
        cell.ln_c.eps if ln else 0.0,
    )
    if torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
        out, h, c = _LSTMScan.apply(*args)
    else:  # nothing to differentiate: keep no per-step buffers for a backward pass
        b = _lstm_forward(*args, keep=False)
        out, h, c = b.output(alive), b.h_n, b.c_n
    return out, (h, c)
