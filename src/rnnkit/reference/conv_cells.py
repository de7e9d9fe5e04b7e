r"""The 2-D ConvLSTM cell in NumPy float64: convolution by im2col, backward beside forward.

Mirrors :class:`rnnkit.nn.ConvLSTMCell` with ``dims=2`` (no normalisation, no dropout): the
same parameter names and shapes (gate order i, f, g, o), so the torch cell's state dict loads as
it is. ``*`` is a stride-1 convolution with "same" padding (total padding ``d (k - 1)`` per axis,
``floor`` of half before, the rest after, as ``torch.nn.functional.conv2d(padding="same")``).

.. math::
    a = W_{ih} * x + b_{ih} + W_{hh} * h + b_{hh} \quad (N, 4 C_h, H, W),
    \text{ split into } a_i, a_f, a_g, a_o

    i = \sigma(a_i + w_{ci} \odot c) \quad f = \sigma(a_f + w_{cf} \odot c) \quad
    g = \tanh(a_g) \quad c' = f \odot c + i \odot g

    o = \sigma(a_o + w_{co} \odot c') \quad h' = o \odot \tanh(c')

(peephole terms only with ``peephole=True``). A convolution is a matrix product over columns:
``im2col`` turns x (N, C, H, W) into (N, C k_h k_w, H W), the weight (G, C, k_h, k_w) becomes
(G, C k_h k_w), and ``W * x = W_mat @ cols``. Its backward: ``dW = sum_n dY cols^T``,
``d cols = W_mat^T dY``, and ``col2im`` adds each column entry back to the pixel it came from.

* :func:`convlstm2d_step` / :func:`convlstm2d_step_backward`: one step, pure functions;
* :class:`ConvLSTM2dCell`: one step with its own weights (``forward`` / ``backward``);
* :class:`ConvLSTM2d`: the cell over L steps with backpropagation through time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnkit.reference.cells import Cell, State, sigmoid
from rnnkit.reference.params import Params, ParamStore, check_size, to_array


# --------------------------------------------------------------------------- the convolution
def _pads(kernel: tuple[int, int], dilation: tuple[int, int]) -> list[tuple[int, int]]:
    """ "same" padding per spatial axis: (before, after) with before = total // 2."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [(t // 2, t - t // 2) for t in totals]


def im2col(x: np.ndarray, kernel: tuple[int, int], dilation: tuple[int, int]) -> np.ndarray:
    """x (N, C, H, W) -> columns (N, C * k_h * k_w, H * W) of a "same" convolution."""
    N, C, H, W = x.shape
    (kh, kw), (dh, dw) = kernel, dilation
    xp = np.pad(x, [(0, 0), (0, 0), *_pads(kernel, dilation)])
    cols = np.empty((N, C, kh, kw, H, W))
    for a in range(kh):
        for b in range(kw):
            cols[:, :, a, b] = xp[:, :, a * dh : a * dh + H, b * dw : b * dw + W]
    return cols.reshape(N, C * kh * kw, H * W)


def col2im(
    d_cols: np.ndarray,
    shape: tuple[int, ...],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The adjoint of :func:`im2col`: (N, C k_h k_w, H W) -> d x (N, C, H, W)."""
    N, C, H, W = shape
    (kh, kw), (dh, dw) = kernel, dilation
    (top, bottom), (left, right) = _pads(kernel, dilation)
    d_xp = np.zeros((N, C, H + top + bottom, W + left + right))
    d = d_cols.reshape(N, C, kh, kw, H, W)
    for a in range(kh):
        for b in range(kw):
            d_xp[:, :, a * dh : a * dh + H, b * dw : b * dw + W] += d[:, :, a, b]
    return d_xp[:, :, top : top + H, left : left + W]


def conv2d(x: np.ndarray, w: np.ndarray, dilation: tuple[int, int]) -> tuple[np.ndarray, Any]:
    """``w * x``: x (N, C, H, W), w (G, C, k_h, k_w) -> (y (N, G, H, W), cache)."""
    N, _, H, W = x.shape
    kernel = w.shape[2:]
    cols = im2col(x, kernel, dilation)
    y = np.einsum("gk,nkp->ngp", w.reshape(len(w), -1), cols)  # (N, G, H*W)
    return y.reshape(N, len(w), H, W), (cols, x.shape, kernel, dilation)


def conv2d_backward(dy: np.ndarray, w: np.ndarray, cache) -> tuple[np.ndarray, np.ndarray]:
    """Backward of :func:`conv2d`: dy (N, G, H, W) -> (dx (N, C, H, W), dw like w)."""
    cols, shape, kernel, dilation = cache
    dy = dy.reshape(dy.shape[0], dy.shape[1], -1)  # (N, G, H*W)
    dw = np.einsum("ngp,nkp->gk", dy, cols).reshape(w.shape)
    d_cols = np.einsum("gk,ngp->nkp", w.reshape(len(w), -1), dy)
    return col2im(d_cols, shape, kernel, dilation), dw


def _reduce_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a (N, C, H, W) gradient down to a broadcast weight's shape (C, H, W) or (C, 1, 1)."""
    grad = grad.sum(axis=0)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


# ------------------------------------------------------------------------------- one step
def convlstm2d_step(
    p: Params, x: np.ndarray, state: State, dilation: tuple[int, int] = (1, 1)
) -> tuple[State, Any]:
    """One ConvLSTM step (equations above): x (N, C_in, H, W), state (h, c) (N, C_h, H, W)."""
    h, c = state
    gx, cache_x = conv2d(x, p["weight_ih"], dilation)
    gh, cache_h = conv2d(h, p["weight_hh"], dilation)
    a = gx + gh
    if "bias_ih" in p:
        a = a + (p["bias_ih"] + p["bias_hh"])[None, :, None, None]
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    peep = "weight_ci" in p
    i = sigmoid(a_i + p["weight_ci"] * c if peep else a_i)
    f = sigmoid(a_f + p["weight_cf"] * c if peep else a_f)
    g = np.tanh(a_g)
    c_new = f * c + i * g
    o = sigmoid(a_o + p["weight_co"] * c_new if peep else a_o)
    tc = np.tanh(c_new)
    h_new = o * tc
    return (h_new, c_new), (cache_x, cache_h, c, i, f, g, o, c_new, tc)


def convlstm2d_step_backward(p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
    """Backward of :func:`convlstm2d_step`: (dh', dc') -> (dx, (dh, dc), grads)."""
    dh_new, dc_new = d_state
    cache_x, cache_h, c, i, f, g, o, c_new, tc = cache
    peep = "weight_ci" in p
    grads: Params = {}
    da_o = dh_new * tc * o * (1.0 - o)
    dc = dc_new + dh_new * o * (1.0 - tc**2)
    if peep:
        dc = dc + da_o * p["weight_co"]
        grads["weight_co"] = _reduce_to(da_o * c_new, p["weight_co"].shape)
    da_i = dc * g * i * (1.0 - i)
    da_f = dc * c * f * (1.0 - f)
    da_g = dc * i * (1.0 - g**2)
    dc_prev = dc * f
    if peep:
        dc_prev = dc_prev + da_i * p["weight_ci"] + da_f * p["weight_cf"]
        grads["weight_ci"] = _reduce_to(da_i * c, p["weight_ci"].shape)
        grads["weight_cf"] = _reduce_to(da_f * c, p["weight_cf"].shape)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (N, 4 C_h, H, W)
    dx, grads["weight_ih"] = conv2d_backward(da, p["weight_ih"], cache_x)
    dh, grads["weight_hh"] = conv2d_backward(da, p["weight_hh"], cache_h)
    if "bias_ih" in p:
        grads["bias_ih"] = grads["bias_hh"] = da.sum(axis=(0, 2, 3))
    return dx, (dh, dc_prev), grads


def convlstm2d_shapes(
    in_channels: int,
    hidden_channels: int,
    kernel: tuple[int, int],
    bias: bool,
    peephole: bool,
    frame_size: tuple[int, int] | None,
) -> dict[str, tuple[int, ...]]:
    """Parameter shapes in the torch cell's order."""
    G = 4 * hidden_channels
    shapes = {
        "weight_ih": (G, in_channels, *kernel),
        "weight_hh": (G, hidden_channels, *kernel),
    }
    if bias:
        shapes["bias_ih"] = shapes["bias_hh"] = (G,)
    if peephole:
        for name in ("weight_ci", "weight_cf", "weight_co"):
            shapes[name] = (hidden_channels, *(frame_size or (1, 1)))
    return shapes


def _pair(name: str, value: int | tuple[int, int]) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or 2 ints, got {value!r}")
    for v in pair:
        check_size(name, v)
    return pair


class ConvLSTM2dCell(Cell):
    """One ConvLSTM step with its own weights, like ``rnnkit.nn.ConvLSTMCell(..., dims=2)``.

    Args:
        in_channels: C_in.  hidden_channels: C_h.  kernel_size, dilation: an int or 2 ints.
        bias: use b_ih and b_hh.  peephole, frame_size: as the torch cell.  seed: initialiser.

    ``forward(x, state=None) -> (h', c')`` with x (N, C_in, H, W) and state (h, c), each
    (N, C_h, H, W), zeros when None; ``backward((dh', dc')) -> (dx, (dh, dc), grads)``.
    Weights are drawn U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (any values do: tests load the torch
    cell's).
    """

    num_gates = 4

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        peephole: bool = False,
        frame_size: tuple[int, int] | None = None,
        seed: int | None = None,
    ) -> None:
        check_size("in_channels", in_channels)
        check_size("hidden_channels", hidden_channels)
        self.input_size, self.hidden_size, self.bias, self.proj_size = (
            in_channels, hidden_channels, bias, 0,
        )  # fmt: skip
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.dilation = _pair("dilation", dilation)
        self.frame_size = None if frame_size is None else _pair("frame_size", frame_size)
        shapes = convlstm2d_shapes(
            in_channels, hidden_channels, self.kernel_size, bias, peephole, self.frame_size
        )
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(hidden_channels * math.prod(self.kernel_size))
        self.params = {k: rng.uniform(-bound, bound, size=s) for k, s in shapes.items()}
        self._cache = None

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)

    def step(self, p: Params, x: np.ndarray, state: State) -> tuple[State, Any]:
        return convlstm2d_step(p, x, state, self.dilation)

    def step_backward(self, p: Params, d_state: State, cache) -> tuple[np.ndarray, State, Params]:
        return convlstm2d_step_backward(p, d_state, cache)

    def check_input(self, x: np.ndarray, name: str = "x") -> None:
        if x.ndim != 4 or x.shape[1] != self.input_size:
            raise ValueError(
                f"{name} must have shape (N, {self.input_size}, H, W) "
                f"(in_channels={self.input_size}), got {x.shape}"
            )

    def zero_state(self, x: np.ndarray) -> State:
        N, _, H, W = x.shape
        return tuple(np.zeros((N, self.hidden_size, H, W)) for _ in range(2))

    def as_state(self, state, x: np.ndarray, name: str = "state") -> State:
        """(h, c) as float64 arrays of x's batch and frame size, or zeros when None."""
        if state is None:
            return self.zero_state(x)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"{name} must be a tuple (h, c) or None")
        expected = (x.shape[0], self.hidden_size, *x.shape[2:])
        out = tuple(to_array(s) for s in state)
        for part, s in zip(("h", "c"), out):
            if s.shape != expected:
                raise ValueError(f"{name} ({part}) must have shape {expected}, got {s.shape}")
        return out

    def forward(self, x: ArrayLike, state=None) -> State:
        x = to_array(x)
        self.check_input(x)
        new, cache = self.step(self.params, x, self.as_state(state, x))
        self._cache = cache
        return new

    __call__ = forward

    def backward(self, d_new_state) -> tuple[np.ndarray, State, Params]:
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        d_new = tuple(to_array(d) for d in d_new_state)
        return self.step_backward(self.params, d_new, self._cache)


class ConvLSTM2d(ParamStore):
    """:class:`ConvLSTM2dCell` run over time with backpropagation through time (one layer).

    ``forward(x, state=None, lengths=None) -> (output, (h_n, c_n))`` with x (L, N, C_in, H, W),
    output (L, N, C_h, H, W) and h_n, c_n (N, C_h, H, W) (``lengths`` must be None: the reference
    runs full sequences). ``backward(d_output, (dh_n, dc_n)) -> (dx, grads)`` and sets
    ``d_h0``, ``d_c0``. Parameters are those of the cell (names without ``_l0``).
    """

    def __init__(self, *args, **kwargs) -> None:
        self.cell = ConvLSTM2dCell(*args, **kwargs)
        self.params = self.cell.params
        self._caches: list | None = None
        self.d_h0 = self.d_c0 = None

    def forward(self, x: ArrayLike, state=None, lengths=None):
        if lengths is not None:
            raise ValueError("lengths must be None: the reference runs full sequences")
        x = to_array(x)
        if x.ndim != 5 or len(x) == 0:
            raise ValueError(f"x must have shape (L, N, C_in, H, W) with L >= 1, got {x.shape}")
        self.cell.check_input(x[0], "x[t]")
        state = self.cell.as_state(state, x[0])
        outputs, self._caches = [], []
        for x_t in x:
            state, cache = self.cell.step(self.params, x_t, state)
            self._caches.append(cache)
            outputs.append(state[0])
        return np.stack(outputs), state

    def backward(self, d_output: ArrayLike, d_state) -> tuple[np.ndarray, Params]:
        if self._caches is None:
            raise RuntimeError("backward() needs a forward() first")
        d_output = to_array(d_output)
        dh, dc = (to_array(d) for d in d_state)
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        dxs = []
        for t in reversed(range(len(self._caches))):
            dx, (dh, dc), g = self.cell.step_backward(
                self.params, (dh + d_output[t], dc), self._caches[t]
            )
            dxs.append(dx)
            for k, v in g.items():
                grads[k] += v
        self.d_h0, self.d_c0 = dh, dc
        return np.stack(dxs[::-1]), grads
