"""The NumPy cells against torch.nn.RNNCell / LSTMCell / GRUCell in float64.

Same weights, same random projection loss ``sum(new_state_i * S_i)``; torch's autograd is the
oracle for the new state, d_x, d_state and every weight gradient. Tolerance 1e-10 (abs and rel).
The projected LSTM cell (torch has no LSTMCell with proj_size) is compared with a one-step
torch.nn.LSTM(proj_size=P).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit.reference as ref

TOL = 1e-10
H_IN, H, N = 3, 5, 4
CELLS = {
    "rnn_tanh": (ref.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (ref.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (ref.GRUCell, torch.nn.GRUCell, {}),
}


def as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def unpack(parts: tuple):
    return parts if len(parts) > 1 else parts[0]


def close(a, b, what: str) -> None:
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=what)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_torch(kind, bias, batched):
    ours_cls, torch_cls, extra = CELLS[kind]
    theirs = torch_cls(H_IN, H, bias=bias, **extra).double()
    ours = ours_cls(H_IN, H, bias=bias, **extra)
    ours.load_state_dict(theirs.state_dict())
    batch = (N,) if batched else ()
    x = torch.randn(*batch, H_IN, dtype=torch.float64, requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    state = tuple(
        torch.randn(*batch, H, dtype=torch.float64, requires_grad=True) for _ in range(n_states)
    )
    new = as_tuple(theirs(x, unpack(state)))
    S = tuple(torch.randn_like(s) for s in new)
    sum((s * w).sum() for s, w in zip(new, S, strict=True)).backward()

    new_np = as_tuple(
        ours.forward(x.detach().numpy(), unpack(tuple(s.detach().numpy() for s in state)))
    )
    dx, d_state, grads = ours.backward(unpack(tuple(s.numpy() for s in S)))
    for a, b in zip(new_np, new, strict=True):
        close(a, b.detach().numpy(), "new state")
    close(dx, x.grad.numpy(), "d_x")
    for a, b in zip(as_tuple(d_state), state, strict=True):
        close(a, b.grad.numpy(), "d_state")
    assert set(grads) == set(dict(theirs.named_parameters()))
    for name, p in theirs.named_parameters():
        close(grads[name], p.grad.numpy(), name)


def test_projected_lstm_cell_matches_one_torch_lstm_step():
    P = 2
    theirs = torch.nn.LSTM(H_IN, H, proj_size=P).double()
    ours = ref.LSTMCell(H_IN, H, proj_size=P)
    ours.load_state_dict({k.removesuffix("_l0"): v for k, v in theirs.state_dict().items()})
    x = torch.randn(1, N, H_IN, dtype=torch.float64, requires_grad=True)
    h = torch.randn(1, N, P, dtype=torch.float64, requires_grad=True)
    c = torch.randn(1, N, H, dtype=torch.float64, requires_grad=True)
    _, (h_new, c_new) = theirs(x, (h, c))
    S_h, S_c = torch.randn_like(h_new), torch.randn_like(c_new)
    ((h_new * S_h).sum() + (c_new * S_c).sum()).backward()

    h_np, c_np = ours.forward(x[0].detach().numpy(), (h[0].detach().numpy(), c[0].detach().numpy()))
    dx, (dh, dc), grads = ours.backward((S_h[0].numpy(), S_c[0].numpy()))
    assert h_np.shape == (N, P) and c_np.shape == (N, H)
    close(h_np, h_new[0].detach().numpy(), "h'")
    close(c_np, c_new[0].detach().numpy(), "c'")
    close(dx, x.grad[0].numpy(), "d_x")
    close(dh, h.grad[0].numpy(), "d_h")
    close(dc, c.grad[0].numpy(), "d_c")
    for name, p in theirs.named_parameters():
        close(grads[name.removesuffix("_l0")], p.grad.numpy(), name)


@pytest.mark.parametrize("kind", list(CELLS))
def test_layer_step_equals_cell_step(kind):
    """A one-layer, one-step layer runs the same step function as the cell."""
    cell_cls, _, extra = CELLS[kind]
    layer_cls = {"rnn": ref.RNN, "lstm": ref.LSTM, "gru": ref.GRU}[kind.split("_")[0]]
    layer = layer_cls(H_IN, H, seed=3, **extra)
    cell = cell_cls(H_IN, H, **extra)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.params.items()})
    x = np.random.default_rng(0).standard_normal((N, H_IN))
    _, state = layer.forward(x[None])
    new = cell.forward(x)
    for a, b in zip(as_tuple(state), as_tuple(new), strict=True):
        np.testing.assert_array_equal(a[0], b)
