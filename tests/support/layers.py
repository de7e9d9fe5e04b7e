"""Shared builders for the rnnkit.nn tests: one table of layer kinds, matched with torch.nn."""

from __future__ import annotations

import torch

import rnnkit.nn as rnn

# kind -> (rnnkit layer, torch layer, extra constructor kwargs)
KINDS = {
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (rnn.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
}
# Tolerances for comparing two implementations of the same equations.
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def projection_loss(output, state, seed: int = 1):
    """sum(output * R) + sum(state_i * S_i) with fixed random R, S: every output gets a gradient."""
    g = torch.Generator().manual_seed(seed)
    loss = (output * torch.randn(output.shape, generator=g, dtype=output.dtype)).sum()
    for s in as_tuple(state):
        loss = loss + (s * torch.randn(s.shape, generator=g, dtype=s.dtype)).sum()
    return loss


def run_with_grads(module, x, **kwargs):
    """Forward, projection loss, backward. Returns output, state, d_input and named grads."""
    x = x.detach().clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    output, state = module(x, **kwargs)
    projection_loss(output, state).backward()
    grads = {k: v.grad for k, v in flat_parameters(module).items()}
    return output.detach(), tuple(s.detach() for s in as_tuple(state)), x.grad, grads


def flat_parameters(module) -> dict[str, torch.Tensor]:
    """Parameters under torch's flat names, for torch.nn and rnnkit layers alike."""
    return {name: getattr(module, name) for name in module.state_dict()}


def assert_close(a, b, tol, what=""):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=lambda m: f"{what}: {m}")
