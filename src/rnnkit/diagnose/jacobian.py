"""How much h_T moves when h_t moves: the spectral norm of dh_T/dh_t, and the spectrum of W_hh.

For a recurrence s_t = f_t(s_{t-1}) (s = h, or (h, c) for an LSTM) with the inputs held fixed,

    dh_T/dh_t = P_h · A_T A_{T-1} ··· A_{t+1} · E_h,        A_k = ∂f_k/∂s_{k-1},

the product of the step Jacobians, read from the h part of s_t (c_t held fixed) to h_T. Its
largest singular value ``||dh_T/dh_t||_2`` says how far the biggest possible nudge of h_t
travels to h_T: it shrinks like γ^(T-t) when gradients vanish and grows when they explode.
For a tanh RNN, A_k = diag(1 - h_k²) W_hh, so ``||dh_T/dh_t||_2 <= σ_max(W_hh)^(T-t)``.

The product is never formed. :func:`power_iteration` needs only J v (forward mode, a
Jacobian-vector product through the steps t+1..T) and J^T u (reverse mode, a vector-Jacobian
product back from T), both computed step by step with :mod:`torch.func` from the states the
layer recorded (:class:`rnnkit.nn.DirectionRecord`). Every start step t and every sequence is
one independent row of the same batched computation, so one pass over the steps serves them
all. Cost per iteration: 2 (T - t_min) cell steps on (starts x sequences) rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import jvp, vjp

from rnnkit.nn import DirectionRecord

State = tuple[Tensor, ...]


def power_iteration(
    matvec: Callable[[Tensor], Tensor],
    rmatvec: Callable[[Tensor], Tensor],
    v: Tensor,
    iterations: int = 30,
    tol: float = 1e-4,
) -> tuple[Tensor, int]:
    """The largest singular value of B linear maps A_b, from products with A and A^T alone.

    Args:
        matvec: (B, n) -> (B, m), v -> A v (row b through A_b).
        rmatvec: (B, m) -> (B, n), u -> A^T u.
        v: (B, n) start vectors (random: a start orthogonal to the top singular vector never
            finds it).
        iterations: at most this many products with A and with A^T.
        tol: stop once every estimate changed by at most ``tol`` (relative) in one iteration.

    Each iteration: u = A v / |A v|, σ = |A^T u|, v = A^T u / σ. σ never decreases and
    converges to σ_max at the rate (σ_2 / σ_1)^2 per iteration. Returns σ (B,) and the number
    of iterations run.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    v, _ = _unit(v)
    sigma = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    for i in range(1, iterations + 1):
        u, _ = _unit(matvec(v))
        v, new = _unit(rmatvec(u))
        done = bool(((new - sigma).abs() <= tol * new).all())
        sigma = new
        if done:
            return sigma, i
    return sigma, iterations


def _unit(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Each row scaled to norm 1 (zero rows stay 0), and the norms. The largest entry is
    divided out first: squares of values below 1e-154 underflow even in float64."""
    scale = rows.abs().amax(dim=1, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    scaled = rows / scale
    norm = scaled.norm(dim=1, keepdim=True)
    unit = scaled / torch.where(norm > 0, norm, torch.ones_like(norm))
    return unit, (norm * scale).squeeze(1)


@dataclass
class JacobianNorms:
    """``sigma[i, n]`` = ||dh_T/dh_t||_2 of sequence n at ``lags[i]`` = T - t steps back.

    ``iterations`` is how many power iterations ran; ``converged`` whether they met ``tol``.
    Steps count in the direction's own order (for a reverse direction, T is its last step,
    input position 0).
    """

    lags: list[int]
    sigma: Tensor  # (len(lags), N)
    iterations: int
    converged: bool


def lags_to_measure(steps: int, points: int) -> list[int]:
    """Up to ``points`` lags 0 .. steps-1, evenly spread, always both ends."""
    if points < 2 or steps <= points:
        return list(range(steps)) if points >= 2 else [steps - 1]
    picks = torch.linspace(0, steps - 1, points).round().long().unique()
    return [int(k) for k in picks]


@torch.no_grad()
def jacobian_norms(
    record: DirectionRecord,
    lags: Sequence[int],
    rows: Sequence[int] | None = None,
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> JacobianNorms:
    """||dh_T/dh_{T-k}||_2 for every lag k in ``lags`` and every chosen sequence.

    Args:
        record: one layer and direction's recorded steps (its cell, inputs and start state).
        lags: steps back from the last step T = L - 1 (0 <= k < L).
        rows: the sequences (batch rows) to measure; all when None.
        iterations, tol: of :func:`power_iteration`.
        seed: of the random start vectors.
    """
    L = record.x_proj.shape[0]
    if not lags or min(lags) < 0 or max(lags) >= L:
        raise ValueError(f"lags must lie in [0, {L - 1}], got {list(lags)}")
    pick = slice(None) if rows is None else torch.as_tensor(list(rows), dtype=torch.long)
    x = record.x_proj[:, pick]  # (L, N, G)
    alive = None if record.alive is None else record.alive[:, pick]
    mask = None if record.mask is None else record.mask[pick]
    initial = tuple(s[pick] for s in record.initial)
    cell, N, R = record.cell, x.shape[1], len(lags)
    h_dims = record.initial[0].dim() - 1  # 1, or 1 + spatial dimensions for a convolutional cell
    # (R*N, 1[, 1...]): the step each row starts from
    starts = torch.tensor([L - 1 - k for k in lags]).repeat_interleave(N)
    starts = starts.view(-1, *([1] * h_dims))

    def rep(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.repeat(R, *([1] * (t.dim() - 1)))

    masks = rep(mask)

    def step(s: int) -> Callable[..., State]:
        x_s = rep(x[s])
        alive_s = None if alive is None else rep(alive[s])

        def f(*state: Tensor) -> State:
            new = cell.step(x_s, state, masks)
            if alive_s is None:
                return tuple(new)
            return tuple(torch.where(alive_s, a, b) for a, b in zip(new, state))

        return f

    states = [tuple(rep(s) for s in initial)]  # states[s] enters step s
    for s in range(L):
        states.append(step(s)(*states[-1]))
    first = L - 1 - max(lags)

    shape = states[0][0].shape  # (R*N, H) or (R*N, C, *S); power iteration sees rows (R*N, n)

    def matvec(v: Tensor) -> Tensor:
        v = v.view(shape)
        tangent = tuple(torch.zeros_like(s) for s in states[first + 1])
        for s in range(first + 1, L):
            # rows whose start is step s - 1 get their nudge of h_{s-1} now
            tangent = (tangent[0] + v * (starts == s - 1), *tangent[1:])
            _, tangent = jvp(step(s), states[s], tangent)
        return (tangent[0] + v * (starts == L - 1)).flatten(1)

    def rmatvec(u: Tensor) -> Tensor:
        cot = (u.view(shape), *(torch.zeros_like(s) for s in states[L][1:]))
        out = torch.zeros_like(cot[0])
        for s in range(L - 1, first - 1, -1):
            out = torch.where(starts == s, cot[0], out)  # cot: d(u·h_T)/d(state after step s)
            if s > first:
                _, back = vjp(step(s), *states[s])
                cot = back(cot)
        return out.flatten(1)

    g = torch.Generator().manual_seed(seed)
    v0 = torch.randn(shape, generator=g, dtype=x.dtype).to(x.device).flatten(1)
    with warnings.catch_warnings():
        # torch's forward-mode decompositions are built with torch.jit.script on first use
        warnings.filterwarnings("ignore", ".*torch.jit.script.*", DeprecationWarning)
        sigma, used = power_iteration(matvec, rmatvec, v0, iterations, tol)
    return JacobianNorms(list(lags), sigma.view(R, N), used, used < iterations)


GATES = {"LSTMCell": "ifgo", "GRUCell": "rzn", "RNNCell": "h"}


def recurrent_spectrum(cell: torch.nn.Module) -> dict[str, list[float]]:
    """Singular values of each gate block of ``cell.weight_hh`` (H x R), largest first.

    Gate names follow torch's order: LSTM i, f, g, o; GRU r, z, n; RNN h (other cells: one
    block per H rows, numbered). Empty for a cell without ``weight_hh``; NaNs where the
    weights are not finite.
    """
    w = getattr(cell, "weight_hh", None)
    if not isinstance(w, Tensor) or w.dim() != 2:
        return {}
    H = getattr(cell, "hidden_size", w.shape[0])
    blocks = w.detach().double().split(H, dim=0)
    names = GATES.get(type(cell).__name__, "")
    if len(names) != len(blocks):
        names = [str(i) for i in range(len(blocks))]
    return {n: _svdvals(b) for n, b in zip(names, blocks)}


def _svdvals(block: Tensor) -> list[float]:
    """Singular values, or NaNs for weights that are not finite (a run that diverged)."""
    if not bool(torch.isfinite(block).all()):
        return [float("nan")] * min(block.shape)
    return torch.linalg.svdvals(block).tolist()
