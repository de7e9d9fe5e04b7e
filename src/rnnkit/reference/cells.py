r"""Recurrent cells in NumPy float64: one time step forward, and its backward right beside it.

The equations are torch's (``torch.nn.RNNCell``, ``LSTMCell``, ``GRUCell``), with the same
parameter names, shapes and gate order, so torch state dicts load as they are. Each step is a
pure function of a parameter dict ``p``, an input ``x`` and a state tuple:

* ``*_step(p, x, state) -> (new_state, cache)``
* ``*_step_backward(p, d_new_state, cache) -> (d_x, d_state, grads)``

The layers in :mod:`rnnkit.reference.layers` run these same functions over time; the cell
classes below wrap them for one step, mirroring torch's cell modules.

Shapes: N batch, H_in input size, H hidden size, P projection size (LSTM only; 0 = none),
R = P if P > 0 else H (the width of ``h``). States are tuples: ``(h,)`` for RNN and GRU,
``(h, c)`` for LSTM, with h (N, R) and c (N, H).

Parameters of a cell with G gates (RNN 1, LSTM 4, GRU 3):
weight_ih (G*H, H_in), weight_hh (G*H, R), bias_ih (G*H,), bias_hh (G*H,), and for a projected
LSTM weight_hr (P, H). Gate blocks are stacked in torch's order (LSTM i, f, g, o; GRU r, z, n).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.reference.params import Params, ParamStore, check_size, init_uniform, to_array

State = tuple[np.ndarray, ...]


def cell_param_shapes(
    num_gates: int, input_size: int, hidden_size: int, bias: bool = True, proj_size: int = 0
) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of one cell, in torch's order (the order the initialiser draws)."""
    G, H, R = num_gates, hidden_size, proj_size or hidden_size
    shapes = {"weight_ih": (G * H, input_size), "weight_hh": (G * H, R)}
    if bias:
        shapes["bias_ih"] = (G * H,)
        shapes["bias_hh"] = (G * H,)
    if proj_size:
        shapes["weight_hr"] = (proj_size, H)
    return shapes


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function, written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# ------------------------------------------------------------------------- the two affine maps
def affine(p: Params, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """gi = W_ih x + b_ih (N, G*H) and gh = W_hh h + b_hh (N, G*H); no bias if p has none."""
    gi = x @ p["weight_ih"].T
    gh = h @ p["weight_hh"].T
    if "bias_ih" in p:
        gi = gi + p["bias_ih"]
        gh = gh + p["bias_hh"]
    return gi, gh


def affine_backward(
    p: Params, d_gi: np.ndarray, d_gh: np.ndarray, x: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Params]:
    """Backward of :func:`affine`: returns (dx (N, H_in), dh (N, R), grads of W_ih, W_hh, b)."""
    grads = {"weight_ih": d_gi.T @ x, "weight_hh": d_gh.T @ h}
    if "bias_ih" in p:
        grads["bias_ih"] = d_gi.sum(axis=0)
        grads["bias_hh"] = d_gh.sum(axis=0)
    return d_gi @ p["weight_ih"], d_gh @ p["weight_hh"], grads


# ------------------------------------------------------------------------------------ Elman RNN
def rnn_step(p: Params, x: np.ndarray, state: State, nonlinearity: str = "tanh"):
    r"""One Elman step: :math:`a = W_{ih} x + b_{ih} + W_{hh} h + b_{hh}`, :math:`h' = \phi(a)`.

    φ is tanh or relu. x (N, H_in), h (N, H) -> ``((h',), cache)`` with h' (N, H).
    """
    (h,) = state
    gi, gh = affine(p, x, h)
    a = gi + gh  # (N, H)
    h_new = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
    return (h_new,), (x, h, a, h_new, nonlinearity)


def rnn_step_backward(p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
    r"""Backward of :func:`rnn_step`: :math:`da = dh' \odot \phi'(a)`, then the affine maps."""
    (dh_new,) = d_state
    x, h, a, h_new, nonlinearity = cache
    da = dh_new * (1.0 - h_new**2) if nonlinearity == "tanh" else dh_new * (a > 0)
    dx, dh, grads = affine_backward(p, da, da, x, h)
    return dx, (dh,), grads


# ----------------------------------------------------------------------------------------- LSTM
def lstm_step(p: Params, x: np.ndarray, state: State):
    r"""One LSTM step (torch's formulation; with ``weight_hr`` the LSTMP of Sak et al., 2014).

    .. math::
        a = W_{ih} x + b_{ih} + W_{hh} h + b_{hh} \quad (N, 4H) = [a_i, a_f, a_g, a_o]

        i = \sigma(a_i) \quad f = \sigma(a_f) \quad g = \tanh(a_g) \quad o = \sigma(a_o)

        c' = f \odot c + i \odot g \qquad m = o \odot \tanh(c')

        h' = m \quad \text{or, projected,} \quad h' = W_{hr} m

    x (N, H_in), h (N, R), c (N, H) -> ``((h', c'), cache)``.
    """
    h, c = state
    H = c.shape[1]
    gi, gh = affine(p, x, h)
    a = gi + gh  # (N, 4H)
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])
    c_new = f * c + i * g
    tanh_c = np.tanh(c_new)
    m = o * tanh_c  # (N, H)
    h_new = m @ p["weight_hr"].T if "weight_hr" in p else m  # (N, R)
    return (h_new, c_new), (x, h, c, i, f, g, o, tanh_c, m)


def lstm_step_backward(p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
    r"""Backward of :func:`lstm_step`.

    .. math::
        dm = dh' \ (\text{projected: } dm = dh' W_{hr},\ dW_{hr} = dh'^T m)

        do = dm \odot \tanh(c') \qquad dc' \mathrel{+}= dm \odot o \odot (1 - \tanh^2(c'))

        di = dc' \odot g \quad df = dc' \odot c \quad dg = dc' \odot i \quad dc = dc' \odot f

        da = [di\, i(1-i),\ df\, f(1-f),\ dg\, (1-g^2),\ do\, o(1-o)]
    """
    dh_new, dc_new = d_state
    x, h, c, i, f, g, o, tanh_c, m = cache
    if "weight_hr" in p:
        dW_hr = dh_new.T @ m  # (P, H)
        dm = dh_new @ p["weight_hr"]
    else:
        dm = dh_new
    do = dm * tanh_c
    dc_new = dc_new + dm * o * (1.0 - tanh_c**2)
    di, df, dg, dc = dc_new * g, dc_new * c, dc_new * i, dc_new * f
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
    )  # (N, 4H)
    dx, dh, grads = affine_backward(p, da, da, x, h)
    if "weight_hr" in p:
        grads["weight_hr"] = dW_hr
    return dx, (dh, dc), grads


# ------------------------------------------------------------------------------------------ GRU
def gru_step(p: Params, x: np.ndarray, state: State):
    r"""One GRU step (torch's formulation: the reset gate multiplies ``W_hn h + b_hn``).

    .. math::
        gi = W_{ih} x + b_{ih} = [gi_r, gi_z, gi_n] \qquad
        gh = W_{hh} h + b_{hh} = [gh_r, gh_z, gh_n] \quad (N, 3H)

        r = \sigma(gi_r + gh_r) \quad z = \sigma(gi_z + gh_z) \quad
        n = \tanh(gi_n + r \odot gh_n)

        h' = (1 - z) \odot n + z \odot h

    x (N, H_in), h (N, H) -> ``((h',), cache)``.
    """
    (h,) = state
    H = h.shape[1]
    gi, gh = affine(p, x, h)
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    gh_n = gh[:, 2 * H :]
    n = np.tanh(gi[:, 2 * H :] + r * gh_n)
    h_new = (1.0 - z) * n + z * h
    return (h_new,), (x, h, r, z, n, gh_n)


def gru_step_backward(p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
    r"""Backward of :func:`gru_step`.

    .. math::
        dn = dh' \odot (1 - z) \quad dz = dh' \odot (h - n) \quad dh = dh' \odot z

        da_n = dn \odot (1 - n^2) \quad dr = da_n \odot gh_n

        da_r = dr\, r(1-r) \quad da_z = dz\, z(1-z)

        d\,gi = [da_r, da_z, da_n] \qquad d\,gh = [da_r, da_z, da_n \odot r]
    """
    (dh_new,) = d_state
    x, h, r, z, n, gh_n = cache
    dn = dh_new * (1.0 - z)
    dz = dh_new * (h - n)
    dh = dh_new * z  # through the z * h path
    da_n = dn * (1.0 - n**2)
    dr = da_n * gh_n
    da_r = dr * r * (1.0 - r)
    da_z = dz * z * (1.0 - z)
    d_gi = np.concatenate([da_r, da_z, da_n], axis=1)
    d_gh = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dx, dh_affine, grads = affine_backward(p, d_gi, d_gh, x, h)
    return dx, (dh + dh_affine,), grads


# ---------------------------------------------------------------------------- the cell modules
class Cell(ParamStore):
    """One recurrent step with its own weights, mirroring ``torch.nn.*Cell``.

    ``forward(x, state=None) -> new_state`` caches what ``backward(d_new_state)`` needs;
    ``backward`` returns ``(d_x, d_state, grads)`` with ``d_state`` shaped like the state and
    ``grads`` keyed like ``params``. x is (N, H_in) or unbatched (H_in,). The state is ``h``
    for RNN and GRU cells and a tuple ``(h, c)`` for LSTM cells; zeros when None.
    """

    num_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        proj_size: int = 0,
        seed: int | None = None,
    ) -> None:
        check_size("input_size", input_size)
        check_size("hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.proj_size = proj_size
        shapes = cell_param_shapes(self.num_gates, input_size, hidden_size, bias, proj_size)
        self.params = init_uniform(shapes, hidden_size, np.random.default_rng(seed))
        self._cache: tuple | None = None

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Widths of the state arrays: (R,) for RNN/GRU, (R, H) for LSTM."""
        return (self.proj_size or self.hidden_size,)

    def step(self, p: Params, x: np.ndarray, state: State) -> tuple[State, Any]:
        raise NotImplementedError

    def step_backward(self, p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
        raise NotImplementedError

    def forward(self, x: ArrayLike, state: ArrayLike | tuple | None = None):
        """One step: x (N, H_in) or (H_in,), state as in torch -> the new state."""
        x = to_array(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have shape (N, {self.input_size}) or ({self.input_size},) "
                f"(input_size={self.input_size}), got {x.shape}"
            )
        unbatched = x.ndim == 1
        xb = x[None] if unbatched else x
        state = self._unpack(state, "state", xb.shape[0], unbatched)
        new_state, cache = self.step(self.params, xb, state)
        self._cache = (cache, unbatched, xb.shape[0])
        return self._pack(new_state, unbatched)

    __call__ = forward

    def backward(self, d_new_state: ArrayLike | tuple):
        """Gradients of the last forward: d_new_state like the new state (None parts = 0)."""
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        cache, unbatched, N = self._cache
        d_new = self._unpack(d_new_state, "d_new_state", N, unbatched)
        dx, d_state, grads = self.step_backward(self.params, d_new, cache)
        return (dx[0] if unbatched else dx), self._pack(d_state, unbatched), grads

    def _unpack(self, state, name: str, N: int, unbatched: bool) -> State:
        """torch's state layout (h, or (h, c)) -> a tuple of (N, size) arrays; None -> zeros."""
        sizes = self.state_sizes
        if state is None:
            return tuple(np.zeros((N, size)) for size in sizes)
        if len(sizes) > 1:
            if not isinstance(state, (tuple, list)) or len(state) != len(sizes):
                raise ValueError(
                    f"{name} must be a tuple (h, c) or None, got {type(state).__name__}"
                )
            parts = list(state)
        else:
            parts = [state]
        out = []
        for part, size, part_name in zip(parts, sizes, ("h", "c"), strict=False):
            if part is None:
                out.append(np.zeros((N, size)))
                continue
            part = to_array(part)
            expected = (size,) if unbatched else (N, size)
            if part.shape != expected:
                raise ValueError(
                    f"{name} ({part_name}) must have shape {expected}, got {part.shape}"
                )
            out.append(part[None] if unbatched else part)
        return tuple(out)

    def _pack(self, state: State, unbatched: bool):
        state = tuple(s[0] for s in state) if unbatched else state
        return state if len(state) > 1 else state[0]


class RNNCell(Cell):
    r"""Elman cell (``torch.nn.RNNCell``): :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.
        nonlinearity: φ, ``"tanh"`` or ``"relu"``.  seed: for the initialiser.

    Weights: weight_ih (H, H_in), weight_hh (H, H), bias_ih (H,), bias_hh (H,), all initialised
    U(-1/sqrt(H), 1/sqrt(H)). State: h (N, H).
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        seed: int | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, seed=seed)
        self.nonlinearity = nonlinearity

    def step(self, p, x, state):
        return rnn_step(p, x, state, self.nonlinearity)

    def step_backward(self, p, d_state, cache):
        return rnn_step_backward(p, d_state, cache)


class LSTMCell(Cell):
    r"""LSTM cell, like ``torch.nn.LSTMCell`` plus torch.nn.LSTM's ``proj_size`` (see lstm_step).

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.
        proj_size: P > 0 projects h' = W_hr m to P features; 0 disables.  seed: initialiser.

    Weights (gate order i, f, g, o): weight_ih (4H, H_in), weight_hh (4H, R), bias_ih (4H,),
    bias_hh (4H,), weight_hr (P, H) if projected; all U(-1/sqrt(H), 1/sqrt(H)).
    State: a tuple (h (N, R), c (N, H)).
    """

    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        proj_size: int = 0,
        seed: int | None = None,
    ) -> None:
        check_proj_size(proj_size, hidden_size)
        super().__init__(input_size, hidden_size, bias, proj_size, seed)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def step(self, p, x, state):
        return lstm_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return lstm_step_backward(p, d_state, cache)


class GRUCell(Cell):
    r"""GRU cell, like ``torch.nn.GRUCell`` (reset gate applied after the matmul; see gru_step).

    Args:
        input_size: H_in.  hidden_size: H.  bias: use b_ih and b_hh.  seed: initialiser.

    Weights (gate order r, z, n): weight_ih (3H, H_in), weight_hh (3H, H), bias_ih (3H,),
    bias_hh (3H,); all U(-1/sqrt(H), 1/sqrt(H)). State: h (N, H).
    """

    num_gates = 3

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, seed: int | None = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, seed=seed)

    def step(self, p, x, state):
        return gru_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return gru_step_backward(p, d_state, cache)


def check_proj_size(proj_size: int, hidden_size: int) -> None:
    """proj_size must be an int in [0, hidden_size)."""
    check_size("proj_size", proj_size, minimum=0)
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size must be smaller than hidden_size, got proj_size={proj_size} "
            f"and hidden_size={hidden_size}"
        )
