r"""Minimal RNNs in NumPy float64: minGRU and minLSTM steps, their backward, and the layers.

The equations of :mod:`rnnkit.nn.minimal` (Feng et al. 2024), one step at a time, with
torch's parameter names (``weight_ih``, ``bias_ih``; no recurrent weights), so a
``rnnkit.nn.MinGRU`` state dict loads as it is. The layers run them with
:class:`rnnkit.reference.layers.Recurrent` (stacking, both directions, lengths, BPTT), which is
what the scans of ``rnnkit.nn`` are checked against.

Shapes: x (N, H_in), h (N, H); k = W_ih x + b_ih (N, G*H) with G = 2 (z, h̃) or 3 (f, i, h̃).
:math:`g(x) = x + 1/2` for x >= 0, else :math:`\sigma(x)`; :math:`g'(x) = 1`, else
:math:`\sigma(x)(1 - \sigma(x))`.
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.reference.cells import State, sigmoid
from rnnkit.reference.layers import Recurrent
from rnnkit.reference.params import Params


def g(x: np.ndarray) -> np.ndarray:
    """x + 1/2 for x >= 0, sigmoid(x) below."""
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def g_prime(x: np.ndarray) -> np.ndarray:
    """The derivative of :func:`g`."""
    s = sigmoid(x)
    return np.where(x >= 0, 1.0, s * (1.0 - s))


def _project(p: Params, x: np.ndarray) -> np.ndarray:
    k = x @ p["weight_ih"].T
    return k + p["bias_ih"] if "bias_ih" in p else k


def _project_backward(p: Params, d_k: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, Params]:
    grads = {"weight_ih": d_k.T @ x}
    if "bias_ih" in p:
        grads["bias_ih"] = d_k.sum(axis=0)
    return d_k @ p["weight_ih"], grads


def mingru_step(p: Params, x: np.ndarray, state: State):
    r""":math:`z = \sigma(k_z)`, :math:`\tilde h = g(k_h)`, :math:`h' = (1 - z) h + z \tilde h`."""
    (h,) = state
    H = h.shape[1]
    k = _project(p, x)
    z, k_h = sigmoid(k[:, :H]), k[:, H:]
    candidate = g(k_h)
    return ((1.0 - z) * h + z * candidate,), (x, h, z, k_h, candidate)


def mingru_step_backward(p: Params, d_state: State, cache):
    r"""dz = dh' (h̃ - h), dh̃ = dh' z, dh = dh' (1 - z); dk = [dz z(1-z), dh̃ g'(k_h)]."""
    (dh_new,) = d_state
    x, h, z, k_h, candidate = cache
    d_kz = dh_new * (candidate - h) * z * (1.0 - z)
    d_kh = dh_new * z * g_prime(k_h)
    dx, grads = _project_backward(p, np.concatenate([d_kz, d_kh], axis=1), x)
    return dx, (dh_new * (1.0 - z),), grads


def minlstm_step(p: Params, x: np.ndarray, state: State):
    r""":math:`f' = \sigma(k_f) / (\sigma(k_f) + \sigma(k_i))`,
    :math:`h' = f' h + (1 - f') g(k_h)`."""
    (h,) = state
    H = h.shape[1]
    k = _project(p, x)
    s_f, s_i, k_h = sigmoid(k[:, :H]), sigmoid(k[:, H : 2 * H]), k[:, 2 * H :]
    f = s_f / (s_f + s_i)
    candidate = g(k_h)
    return (f * h + (1.0 - f) * candidate,), (x, h, s_f, s_i, f, k_h, candidate)


def minlstm_step_backward(p: Params, d_state: State, cache):
    r"""df = dh' (h - h̃); with S = σ_f + σ_i: dk_f = df σ_i/S² σ_f(1-σ_f),
    dk_i = -df σ_f/S² σ_i(1-σ_i), dk_h = dh' (1 - f') g'(k_h); dh = dh' f'."""
    (dh_new,) = d_state
    x, h, s_f, s_i, f, k_h, candidate = cache
    df = dh_new * (h - candidate)
    total2 = (s_f + s_i) ** 2
    d_kf = df * s_i / total2 * s_f * (1.0 - s_f)
    d_ki = -df * s_f / total2 * s_i * (1.0 - s_i)
    d_kh = dh_new * (1.0 - f) * g_prime(k_h)
    dx, grads = _project_backward(p, np.concatenate([d_kf, d_ki, d_kh], axis=1), x)
    return dx, (dh_new * f,), grads


class _Minimal(Recurrent):
    """Parameters ``weight_ih_l{k}`` (G*H, H_in), ``bias_ih_l{k}`` (G*H,), initialised
    U(-1/sqrt(H_in), 1/sqrt(H_in)) as ``rnnkit.nn``'s minimal cells."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, seed=seed
        )

    def cell_shapes(self, layer_input: int) -> dict[str, tuple[int, ...]]:
        rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": (rows, layer_input)}
        if self.bias:
            shapes["bias_ih"] = (rows,)
        return shapes

    def init_params(self, shapes, rng) -> Params:
        params = {}
        for name, shape in shapes.items():
            fan_in = shapes[name.replace("bias_ih", "weight_ih")][1]
            bound = 1.0 / math.sqrt(fan_in)
            params[name] = rng.uniform(-bound, bound, size=shape)
        return params


class MinGRU(_Minimal):
    """``rnnkit.nn.MinGRU`` (gates z, h̃): args as :class:`rnnkit.reference.GRU`."""

    num_gates = 2

    def step(self, p, x, state):
        return mingru_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return mingru_step_backward(p, d_state, cache)


class MinLSTM(_Minimal):
    """``rnnkit.nn.MinLSTM`` (gates f, i, h̃): args as :class:`rnnkit.reference.GRU`."""

    num_gates = 3

    def step(self, p, x, state):
        return minlstm_step(p, x, state)

    def step_backward(self, p, d_state, cache):
        return minlstm_step_backward(p, d_state, cache)
