"""The GRU scan: :class:`_GRUScan` (one autograd node for the whole sequence, hand-written
BPTT), its buffers, its forward and backward time loops in torch ops (the compiled loops of
:mod:`rnnkit.nn.kernels` serve instead where they can), and the entry point :func:`_gru_scan`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..cells import GRUCell, State
from ..kernels import compiled, usable
from .common import (
    _alive_steps,
    _carry,
    _dsigmoid,
    _dtanh,
    _gain_grads,
    _grad_new,
    _grad_old,
    _layer_norm,
    _layer_norm_grad,
    _per_step,
    _recurrent_weight_grad,
    _sum_rows,
    _tanh,
    _with_states_before,
)


class _GRUScan(torch.autograd.Function):
    r"""GRU over a whole sequence; gate order r, z, n.

    Inputs: x = x_proj (L, N, 3H), h0 (N, H), mask, alive, w_hh (3H, H), b_hh (3H,) | None,
    g_hh (3H,) | None (LN gain of the recurrent term), eps. Outputs: (L, N, H), h_n (N, H).

    Forward, per step (b = b_hh, or 0):

    .. math::
        p = h_{in} W_{hh}^T + b \;(\text{LN: } LN_{g_{hh}}(h_{in} W_{hh}^T) + b) \qquad
        r, z = \sigma(x_{rz} + p_{rz})

        n = \tanh(x_n + r \odot p_n) \qquad h' = n + z \odot (h - n)

    Backward, per step:

    .. math::
        dn_{pre} = dh' (1 - z)(1 - n^2) \qquad dz_{pre} = dh' (h - n)\, z (1 - z) \qquad
        dr_{pre} = dn_{pre}\, p_n\, r (1 - r)

        dp = [dr_{pre}, dz_{pre}, dn_{pre}\, r] \qquad
        dh = dh' z + (dp\; W_{hh}) \odot mask \;(\text{LN: } dp \text{ through LN backward first})

    Then ``d x = [dr_pre, dz_pre, dn_pre]``, ``d b = sum dp``, ``d W_hh = sum_t da_t^T h_in_t``.

    Both time loops run in C++ (``gru_forward``/``gru_backward`` of :mod:`rnnkit.nn.kernels`)
    wherever the kernels serve; :func:`_gru_forward_ops` and :func:`_gru_backward_ops` are the
    same loops in torch ops, for every other device, dtype or machine.
    """

    @staticmethod
    def forward(ctx, x, h0, mask, alive, w_hh, b_hh, g_hh, eps):
        b = _gru_forward(x, h0, mask, alive, w_hh, b_hh, g_hh, eps)
        ctx.save_for_backward(
            *(h0, mask, alive, w_hh, b_hh, g_hh),
            *(b.p, b.a_raw, b.a_mean, b.a_rstd, b.rz, b.n, b.h_in, b.h_st),
        )
        return b.output(alive), b.h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        h0, mask, alive, w_hh, b_hh, g_hh, p, a_raw, a_mean, a_rstd, rz, n, h_in, h_st = (
            ctx.saved_tensors
        )
        kernels = compiled() if usable(n) else None
        loop = _gru_backward_ops if kernels is None else kernels.gru_backward
        d_out = d_out if alive is None else d_out * alive  # outputs are h' * alive
        d_x, d_h, d_p, d_a = loop(
            d_out, d_hT, h0, mask, alive, w_hh, g_hh, p, a_raw, a_mean, a_rstd, rz, n, h_st
        )
        d_w_hh = _recurrent_weight_grad(d_a, h0, h_st, h_in) if ctx.needs_input_grad[4] else None
        d_g_hh = d_b_hh = None
        if g_hh is not None:
            d_g_hh, d_b_hh = _gain_grads(d_p, a_raw, a_mean, a_rstd, g_hh, b_hh)
        elif b_hh is not None:
            d_b_hh = _sum_rows(d_p)
        return d_x, d_h, None, None, d_w_hh, d_b_hh, d_g_hh, None


class _GRUBuffers(NamedTuple):
    """What the forward loop returns (None where an option is off); shapes (L, N, .)."""

    p: Tensor  # the recurrent term W_hh h_in + b_hh (after LN) (L, N, 3H)
    a_raw: Tensor | None  # LN: h_in W_hh^T before its layer norm
    a_mean: Tensor | None  # LN: (L, N, 1) statistics of a_raw
    a_rstd: Tensor | None
    rz: Tensor  # r, z (L, N, 2H)
    n: Tensor  # the candidate n (L, N, H)
    h_new: Tensor  # h' (L, N, H)
    h_in: Tensor | None  # recurrent dropout: h * mask, the input of W_hh
    h_st: Tensor  # lengths: the state after each step (h_new without lengths)
    h_n: Tensor  # the final state (N, H)

    def output(self, alive: Tensor | None) -> Tensor:
        """The layer's output: h' of every step, zero where a step is not alive."""
        return self.h_new if alive is None else self.h_new * alive


def _gru_forward(*args, keep: bool = True) -> _GRUBuffers:
    """The forward loop over ``_GRUScan``'s inputs: compiled where the kernels serve, else in
    torch ops. ``keep=False`` keeps no per-step buffers (inference)."""
    kernels = compiled() if usable(args[0]) else None
    loop = _gru_forward_ops if kernels is None else kernels.gru_forward
    return _GRUBuffers(*loop(*args, keep))


def _gru_forward_ops(x, h0, mask, alive, w_hh, b_hh, g_hh, eps, keep):
    """The forward loop of :class:`_GRUScan` in torch ops; returns what ``gru_forward`` does,
    the fields of :class:`_GRUBuffers` in order. Without ``keep`` (inference) only h_new and
    h_n are meaningful: the other buffers have two rotating slots instead of L steps."""
    L, N, G = x.shape
    H = G // 3
    ln = g_hh is not None
    slots = L if keep else min(L, 2)
    new = x.new_empty
    p_all = new(slots, N, G)  # W_hh h_in + b (after LN)
    a_raw = new(slots, N, G) if ln else None  # LN: W_hh h_in before its layer norm
    a_mean = new(slots, N, 1) if ln else None
    a_rstd = new(slots, N, 1) if ln else None
    rz_all, n_all, h_new = new(slots, N, 2 * H), new(slots, N, H), new(L, N, H)
    h_in = new(slots, N, H) if mask is not None else None
    h_st = new(slots, N, H) if alive is not None else h_new
    p_, a_raw_, a_mean_, a_rstd_, rz_, n_, h_new_, h_in_, h_st_, alive_ = _per_step(
        L, p_all, a_raw, a_mean, a_rstd, rz_all, n_all, h_new, h_in, h_st, alive
    )
    w_t, one = w_hh.t(), x.new_ones(())
    h = h0
    for t, x_t in enumerate(x.unbind(0)):
        hin = h if mask is None else torch.mul(h, mask, out=h_in_[t])
        if ln:
            out, mean, rstd = _layer_norm(torch.mm(hin, w_t, out=a_raw_[t]), g_hh, b_hh, eps)
            p = p_[t].copy_(out)
            a_mean_[t].copy_(mean), a_rstd_[t].copy_(rstd)
        elif b_hh is not None:
            p = torch.addmm(b_hh, hin, w_t, out=p_[t])
        else:
            p = torch.mm(hin, w_t, out=p_[t])
        rz = torch.add(x_t[:, : 2 * H], p[:, : 2 * H], out=rz_[t]).sigmoid_()
        n = torch.addcmul(x_t[:, 2 * H :], rz[:, :H], p[:, 2 * H :], out=n_[t])
        _tanh(n, out=n, one=one)
        torch.lerp(n, h, rz[:, H:], out=h_new_[t])  # n + z * (h - n)
        h = _carry(alive_[t], h_new_[t], h, out=h_st_[t])
    return p_all, a_raw, a_mean, a_rstd, rz_all, n_all, h_new, h_in, h_st, h.clone()


def _gru_backward_ops(d_out, d_hT, h0, mask, alive, w_hh, g_hh, p_all, a_raw, a_mean, a_rstd,
                      rz_all, n_all, h_st):  # fmt: skip
    """The backward loop of :class:`_GRUScan` in torch ops; returns what ``gru_backward`` does:
    d x (L, N, 3H), d h0 (N, H), d p (L, N, 3H), d a (L, N, 3H) (d p itself without LN)."""
    L, N, H = n_all.shape
    G = 3 * H
    ln = g_hh is not None
    new = n_all.new_empty
    one = n_all.new_ones(())

    # Derivative factors of every step at once: dh' -> dn_pre, and dh' -> dp (L, N, 3, H).
    r, z = rz_all.chunk(2, 2)
    n, p_n = n_all, p_all[..., 2 * H :]
    dh_to_n = _dtanh(torch.sub(one, z), n)  # (1 - z)(1 - n^2)
    dh_to_p = new(L, N, 3, H)
    to_r, to_z, to_n = dh_to_p.unbind(2)
    _dsigmoid(dh_to_n * p_n, r, out=to_r)  # (1 - z)(1 - n^2) p_n r (1 - r)
    _with_states_before(torch.sub, h0, h_st, n, out=to_z)  # h - n
    _dsigmoid(to_z, z, out=to_z)  # (h - n) z (1 - z)
    torch.mul(dh_to_n, r, out=to_n)

    d_p = new(L, N, G)  # d p (the recurrent term, after LN and bias)
    d_h_new = new(L, N, H)  # dh' of every step (zero where dead)
    d_a = new(L, N, G) if ln else d_p  # d (W_hh h_in)
    d_p_, d_a_, d_h_new_, to_p_, z_, a_raw_, a_mean_, a_rstd_ = _per_step(
        L, d_p, d_a, d_h_new, dh_to_p, z, a_raw, a_mean, a_rstd
    )
    alive_, alive_f_ = _alive_steps(alive, L, n_all.dtype)
    d_out_ = list(d_out.unbind(0))
    d_h = d_hT  # gradient w.r.t. the state after step t
    for t in reversed(range(L)):
        dh = torch.add(d_out_[t], _grad_new(d_h, alive_f_[t]), out=d_h_new_[t])
        torch.mul(dh.unsqueeze(1), to_p_[t], out=d_p_[t].view(N, 3, H))
        if ln:
            d_a_[t].copy_(_layer_norm_grad(d_p_[t], a_raw_[t], a_mean_[t], a_rstd_[t], g_hh, None))
        dh_prev = torch.mm(d_a_[t], w_hh)
        if mask is not None:
            dh_prev.mul_(mask)
        d_h = _grad_old(dh_prev.addcmul_(dh, z_[t]), d_h, alive_[t])

    d_x = torch.cat((d_p[..., : 2 * H], d_h_new * dh_to_n), 2)
    return d_x, d_h, d_p, d_a


def _gru_scan(cell: GRUCell, x_proj, state: State, mask, alive) -> tuple[Tensor, State]:
    (h0,) = state
    ln = cell.layer_norm
    args = (
        x_proj,
        h0,
        mask,
        alive,
        cell.weight_hh,
        cell.bias_hh,
        cell.ln_hh.weight if ln else None,
        cell.ln_hh.eps if ln else 0.0,
    )
    if torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
        out, h = _GRUScan.apply(*args)
    else:  # nothing to differentiate: keep no per-step buffers for a backward pass
        b = _gru_forward(*args, keep=False)
        out, h = b.output(alive), b.h_n
    return out, (h,)
