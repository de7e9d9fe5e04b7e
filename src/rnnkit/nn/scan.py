"""Fast scans: the whole sequence of a built-in cell in one autograd node, with hand-written BPTT.

:func:`fast_scan` gives :class:`~rnnkit.nn.recurrent.Recurrent` a replacement for its generic
``step_loop`` when a cell is exactly a built-in ``LSTMCell``, ``GRUCell`` or ``RNNCell``. The
generic loop records about ten small autograd nodes per step; here the forward loop runs without
autograd, writing what backward needs (activated gates, cell states, the states entering each
step) into preallocated (L, N, .) buffers, and the backward loop computes each step's gate
gradients and ``d h_{t-1}``. Whatever does not depend on the previous step is done once for all
steps: the derivative factors of the activations before the backward loop, and the gradients of
the recurrent weight, gains and biases after it, as single matmuls / reductions over the buffers
(``d W_hh = d a(L*N, G)^T @ h_in(L*N, R)``).

On CPU in float32/float64 the LSTM scan runs both time loops in C++ (the compiled kernels of
:mod:`rnnkit.nn.kernels`, when they build): the step's matrix products through ATen and its
element-wise work (gates, cell, layer norms, their backward, the layer-norm gain and bias
gradients) in one pass per batch row. The same loops written in torch ops
(:func:`_lstm_forward_ops`, :func:`_lstm_backward_ops`) serve everywhere else.

Each Function takes ``x_proj`` (the cell's ``project_input`` of all steps) and returns its
gradient, so autograd handles the input projection (the input matmul, LN on the input term, the
biases folded into ``x_proj``).

Conventions of every scan, as in ``step_loop``:

* shapes: L steps, N batch, H hidden size, G = gates * H, R width of the recurrent input ``h``
  (H, or the projection size P of a projected LSTM);
* ``mask`` (N, R) or None: the recurrent-dropout mask; ``h_in = h * mask`` enters ``W_hh``
  (a constant: it gets no gradient);
* ``alive`` (L, N, 1) bool or None: where a step is not alive the state is carried unchanged
  and the output is zero;
* layer norm ``LN_{g,b}(a) = g * a_hat + b``, ``a_hat = (a - mean(a)) * rstd``,
  ``rstd = 1 / sqrt(var(a) + eps)``, over the last dim.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .cells import GRUCell, LSTMCell, RNNCell, State
from .kernels import lstm_kernels, usable


def fast_scan(cell) -> Callable | None:
    """The fast scan for ``cell``'s exact type, or None to use the generic step loop.

    Subclasses get None (they may override ``step``), and so does a cell whose layer-norm
    modules are not the standard ones it was built with, and any cell under autocast (which
    casts op by op; a scan keeps one dtype).
    """
    kind = type(cell)
    if kind not in _SCANS or torch.is_autocast_enabled(cell.weight_hh.device.type):
        return None
    if cell.layer_norm:
        norms = [(cell.ln_hh, False)] + ([(cell.ln_c, True)] if kind is LSTMCell else [])
        for module, bias in norms:
            if (
                type(module) is not nn.LayerNorm
                or len(module.normalized_shape) != 1
                or module.weight is None
                or (module.bias is not None) != bias
            ):
                return None
    return _SCANS[kind]


# ------------------------------------------------------------------------- alive and per step
def _per_step(L: int, *tensors: Tensor | None) -> list[list]:
    """For each tensor, its L per-step views (``unbind(0)``); L Nones for a None.

    A buffer with fewer than L rows (the rotating slots of an inference pass) is cycled.
    """
    views = [[None] if t is None else list(t.unbind(0)) for t in tensors]
    return [v if len(v) == L else [v[t % len(v)] for t in range(L)] for v in views]


def _carry(alive_t: Tensor | None, new: Tensor, old: Tensor, out: Tensor) -> Tensor:
    """Forward alive-masking: the state after a step is ``new`` where alive, else ``old``."""
    return new if alive_t is None else torch.where(alive_t, new, old, out=out)


def _alive_steps(alive: Tensor | None, L: int, dtype) -> tuple[list, list]:
    """Per-step ``alive`` as bools (for :func:`_grad_old`) and floats (for :func:`_grad_new`)."""
    return _per_step(L, alive, None if alive is None else alive.to(dtype))


def _output_grads(d_out: Tensor, alive: Tensor | None) -> list[Tensor]:
    """Per-step gradient of the outputs ``h_new * alive`` w.r.t. ``h_new``."""
    return list((d_out if alive is None else d_out * alive).unbind(0))


def _grad_new(d_state: Tensor, alive_f_t: Tensor | None) -> Tensor:
    """Backward of :func:`_carry` into ``new``: ``d_state * alive``."""
    return d_state if alive_f_t is None else d_state * alive_f_t


def _grad_old(d_cell: Tensor, d_state: Tensor, alive_t: Tensor | None) -> Tensor:
    """Gradient w.r.t. the state before a step: through the cell where alive, else carried.

    ``d_cell`` is zero where the step is dead (it comes from :func:`_grad_new`).
    """
    return d_cell if alive_t is None else torch.where(alive_t, d_cell, d_state)


# ------------------------------------------------------------------------- states and weights
def _with_states_before(op: Callable, s0: Tensor, states: Tensor, y: Tensor, out: Tensor):
    """``out_t = op(s_t, y_t)`` for every step, ``s_t`` the state entering step t (no copy)."""
    op(s0, y[0], out=out[0])
    op(states[:-1], y[1:], out=out[1:])
    return out


def _flat(t: Tensor) -> Tensor:
    """(L, N, K) -> (L*N, K)."""
    return t.reshape(-1, t.shape[-1])


def _recurrent_weight_grad(d_a: Tensor, h0: Tensor, h_st: Tensor, h_in: Tensor | None) -> Tensor:
    """``d W_hh = sum_t d a_t^T h_in_t`` (G, R) as one matmul over all steps.

    ``h_in`` (L, N, R) is the recurrent input of every step, or None when it is the state
    entering each step (no mask): ``h0``, then ``h_st[:-1]``.
    """
    if h_in is not None:
        return _flat(d_a).t().mm(_flat(h_in))
    return torch.addmm(d_a[0].t().mm(h0), _flat(d_a[1:]).t(), _flat(h_st[:-1]))


def _sum_rows(t: Tensor) -> Tensor:
    """Sum over steps and batch: (L, N, K) -> (K,)."""
    return t.sum((0, 1))


# ------------------------------------------------------------------------------- activations
def _tanh(x: Tensor, out: Tensor, one: Tensor) -> Tensor:
    """``tanh(x)`` written to ``out`` (which may be ``x``); ``one`` is a 0-dim tensor 1.

    On CPU as ``2 * sigmoid(2x) - 1``: torch's CPU ``tanh`` is several times slower than its
    ``sigmoid`` (torch 2.13). Scaling by 2 is exact, so this agrees with ``tanh`` to a few
    units in the last place of 1 (absolute), e.g. ~1e-7 in float32.
    """
    if x.device.type != "cpu":
        return torch.tanh(x, out=out)
    return _two_sigmoid_minus_one(torch.add(x, x, out=out).sigmoid_(), one)


def _two_sigmoid_minus_one(s: Tensor, one: Tensor) -> Tensor:
    """In place ``s <- 2 s - 1`` (``tanh(x)`` from ``s = sigmoid(2x)``)."""
    return s.add_(s).sub_(one)


def _dsigmoid(d: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
    """``d * y * (1 - y)``, through ``y = sigmoid(z)`` (torch's fused kernel)."""
    if out is None:
        return torch.ops.aten.sigmoid_backward(d, y)
    return torch.ops.aten.sigmoid_backward.grad_input(d, y, grad_input=out)


def _dtanh(d: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
    """``d * (1 - y^2)``, through ``y = tanh(z)`` (torch's fused kernel)."""
    if out is None:
        return torch.ops.aten.tanh_backward(d, y)
    return torch.ops.aten.tanh_backward.grad_input(d, y, grad_input=out)


def _layer_norm(a: Tensor, gain: Tensor, bias: Tensor | None, eps: float):
    """``LN_{g,b}(a)`` over the last dim (N, K): returns (output, mean, rstd), the last two (N, 1).

    torch's fused kernel: 2-4x faster here than the same normalisation written as separate ops
    (measured for N in {32, 64}, K in {128 .. 1024}, 1 and 2 threads).
    """
    return torch.native_layer_norm(a, a.shape[-1:], gain, bias, eps)


def _layer_norm_grad(dy: Tensor, a: Tensor, mean: Tensor, rstd: Tensor, gain, bias) -> Tensor:
    """d a from d LN_{g,b}(a) (torch's fused kernel):

    d a = rstd * (d_hat - mean(d_hat) - a_hat * mean(d_hat * a_hat)), d_hat = g * dy.
    """
    mask = [True, False, False]
    return torch.ops.aten.native_layer_norm_backward(
        dy, a, a.shape[-1:], mean, rstd, gain, bias, mask
    )[0]


def _stack_stats(stats: list) -> tuple[Tensor, Tensor]:
    """Per-step (mean, rstd) pairs -> (L, N, 1) means and (L, N, 1) rstds."""
    means, rstds = zip(*stats)
    return torch.stack(means), torch.stack(rstds)


def _gain_grads(dy: Tensor, a: Tensor, mean: Tensor, rstd: Tensor, gain, bias):
    """d g = sum dy * a_hat and d b = sum dy (None without a bias) over all steps and the batch.

    One call of torch's fused kernel on the (L*N, K) buffers: ~10x faster here than forming
    a_hat = (a - mean) * rstd and reducing.
    """
    mask = [False, True, bias is not None]
    _, d_gain, d_bias = torch.ops.aten.native_layer_norm_backward(
        _flat(dy), _flat(a), a.shape[-1:], _flat(mean), _flat(rstd), gain, bias, mask
    )
    return d_gain, d_bias


# ------------------------------------------------------------------------------------------ LSTM
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

    Both time loops run in C++ (``scan_forward``/``scan_backward`` of :mod:`rnnkit.nn.kernels`)
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
        kernels = lstm_kernels() if usable(acts) else None
        loop = _lstm_backward_ops if kernels is None else kernels.scan_backward
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
    kernels = lstm_kernels() if usable(args[0]) else None
    loop = _lstm_forward_ops if kernels is None else kernels.scan_forward
    return _LSTMBuffers(*loop(*args, keep))


def _lstm_forward_ops(x, h0, c0, mask, alive, w_hh, g_hh, g_c, b_c, w_hr, eps_hh, eps_c, keep):
    """The forward loop of :class:`_LSTMScan` in torch ops; returns what ``scan_forward`` does,
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
    """The backward loop of :class:`_LSTMScan` in torch ops; returns what ``scan_backward`` does:

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


# ------------------------------------------------------------------------------------------- GRU
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
    """

    @staticmethod
    def forward(ctx, x, h0, mask, alive, w_hh, b_hh, g_hh, eps):
        L, N, G = x.shape
        H = G // 3
        ln = g_hh is not None
        new = x.new_empty
        p_all = None if ln else new(L, N, G)  # W_hh h_in + b (after LN; stacked below)
        a_raw = new(L, N, G) if ln else None  # LN: W_hh h_in before its layer norm
        p_list, a_stats = [], []  # LN: p and (mean, rstd) of W_hh h_in, per step
        rz_all, n_all, h_new = new(L, N, 2 * H), new(L, N, H), new(L, N, H)
        h_in = new(L, N, H) if mask is not None else None
        h_st = new(L, N, H) if alive is not None else h_new
        p_, a_raw_, rz_, n_, h_new_, h_in_, h_st_, alive_ = _per_step(
            L, p_all, a_raw, rz_all, n_all, h_new, h_in, h_st, alive
        )
        w_t, one = w_hh.t(), x.new_ones(())
        h = h0
        for t, x_t in enumerate(x.unbind(0)):
            hin = h if mask is None else torch.mul(h, mask, out=h_in_[t])
            if ln:
                p, *stats = _layer_norm(torch.mm(hin, w_t, out=a_raw_[t]), g_hh, b_hh, eps)
                p_list.append(p)
                a_stats.append(stats)
            elif b_hh is not None:
                p = torch.addmm(b_hh, hin, w_t, out=p_[t])
            else:
                p = torch.mm(hin, w_t, out=p_[t])
            rz = torch.add(x_t[:, : 2 * H], p[:, : 2 * H], out=rz_[t]).sigmoid_()
            n = torch.addcmul(x_t[:, 2 * H :], rz[:, :H], p[:, 2 * H :], out=n_[t])
            _tanh(n, out=n, one=one)
            torch.lerp(n, h, rz[:, H:], out=h_new_[t])  # n + z * (h - n)
            h = _carry(alive_[t], h_new_[t], h, out=h_st_[t])
        if ln:
            p_all = torch.stack(p_list)
        a_mean, a_rstd = _stack_stats(a_stats) if ln else (None, None)
        ctx.save_for_backward(
            h0,
            mask,
            alive,
            w_hh,
            b_hh,
            g_hh,
            p_all,
            a_raw,
            a_mean,
            a_rstd,
            rz_all,
            n_all,
            h_in,
            h_st,
        )
        out = h_new if alive is None else h_new * alive
        return out, h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        h0, mask, alive, w_hh, b_hh, g_hh, p_all, a_raw, a_mean, a_rstd = ctx.saved_tensors[:10]
        rz_all, n_all, h_in, h_st = ctx.saved_tensors[10:]
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
        d_a_ = []  # LN: d (W_hh h_in) of every step, last step first
        d_p_, d_h_new_, to_p_, z_, a_raw_, a_mean_, a_rstd_ = _per_step(
            L, d_p, d_h_new, dh_to_p, z, a_raw, a_mean, a_rstd
        )
        alive_, alive_f_ = _alive_steps(alive, L, n_all.dtype)
        d_out_ = _output_grads(d_out, alive)
        d_h = d_hT  # gradient w.r.t. the state after step t
        for t in reversed(range(L)):
            dh = torch.add(d_out_[t], _grad_new(d_h, alive_f_[t]), out=d_h_new_[t])
            torch.mul(dh.unsqueeze(1), to_p_[t], out=d_p_[t].view(N, 3, H))
            if ln:
                d_a_.append(
                    _layer_norm_grad(d_p_[t], a_raw_[t], a_mean_[t], a_rstd_[t], g_hh, b_hh)
                )
            dh_prev = torch.mm(d_a_[-1] if ln else d_p_[t], w_hh)
            if mask is not None:
                dh_prev.mul_(mask)
            d_h = _grad_old(dh_prev.addcmul_(dh, z_[t]), d_h, alive_[t])

        d_x = torch.cat((d_p[..., : 2 * H], d_h_new * dh_to_n), 2)
        d_a = torch.stack(d_a_[::-1]) if ln else d_p  # d (W_hh h_in)
        d_w_hh = _recurrent_weight_grad(d_a, h0, h_st, h_in) if ctx.needs_input_grad[4] else None
        d_g_hh = d_b_hh = None
        if ln:
            d_g_hh, d_b_hh = _gain_grads(d_p, a_raw, a_mean, a_rstd, g_hh, b_hh)
        elif b_hh is not None:
            d_b_hh = _sum_rows(d_p)
        return d_x, d_h, None, None, d_w_hh, d_b_hh, d_g_hh, None


def _gru_scan(cell: GRUCell, x_proj, state: State, mask, alive) -> tuple[Tensor, State]:
    (h0,) = state
    ln = cell.layer_norm
    out, h = _GRUScan.apply(
        x_proj,
        h0,
        mask,
        alive,
        cell.weight_hh,
        cell.bias_hh,
        cell.ln_hh.weight if ln else None,
        cell.ln_hh.eps if ln else 0.0,
    )
    return out, (h,)


# ------------------------------------------------------------------------------------------- RNN
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


_SCANS = {LSTMCell: _lstm_scan, GRUCell: _gru_scan, RNNCell: _rnn_scan}
