"""Parity of the NumPy reference layers with torch.nn in float64.

One set of weights (a torch.nn layer's state dict) goes into both. The loss is the same random
projection ``sum(output * R) + sum(state_i * S_i)``; torch's autograd is the oracle for the
output, the final state, d_input, d_h0 (d_c0) and every parameter gradient. Tolerance: 1e-10
absolute and relative (float64; the observed differences are ~1e-15).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit.reference as ref

TOL = 1e-10
KINDS = {
    "rnn_tanh": (ref.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (ref.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (ref.LSTM, torch.nn.LSTM, {"proj_size": 2}),
    "gru": (ref.GRU, torch.nn.GRU, {}),
}
H_IN, H, T, N = 3, 4, 5, 3


def as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def make_pair(kind: str, **kwargs):
    ours_cls, torch_cls, extra = KINDS[kind]
    theirs = torch_cls(H_IN, H, **extra, **kwargs).double()
    ours = ours_cls(H_IN, H, **extra, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def random_h0(module: torch.nn.Module, batch: tuple[int, ...] = (N,)) -> tuple[torch.Tensor, ...]:
    rows = module.num_layers * (2 if module.bidirectional else 1)
    h_out = getattr(module, "proj_size", 0) or module.hidden_size
    h0 = torch.randn(rows, *batch, h_out, dtype=torch.float64)
    if isinstance(module, torch.nn.LSTM):
        return h0, torch.randn(rows, *batch, module.hidden_size, dtype=torch.float64)
    return (h0,)


def check_against_torch(ours, theirs, x: torch.Tensor, h0: tuple[torch.Tensor, ...]) -> None:
    """Forward and backward of both with the same projection loss; compare everything."""
    x = x.clone().requires_grad_(True)
    h0 = tuple(h.clone().requires_grad_(True) for h in h0)
    out, state = theirs(x, h0 if len(h0) > 1 else h0[0])
    state = as_tuple(state)
    R = torch.randn_like(out)
    S = tuple(torch.randn_like(s) for s in state)
    loss = (out * R).sum() + sum((s * w).sum() for s, w in zip(state, S, strict=True))
    loss.backward()

    h0_np = tuple(h.detach().numpy() for h in h0)
    out_np, state_np = ours.forward(x.detach().numpy(), h0_np if len(h0) > 1 else h0_np[0])
    S_np = tuple(s.numpy() for s in S)
    dx, grads = ours.backward(R.numpy(), S_np if len(S) > 1 else S_np[0])

    def close(a, b, what):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=TOL, atol=TOL, err_msg=what)

    close(out_np, out, "output")
    assert len(as_tuple(state_np)) == len(state)
    for name, a, b in zip(("h_n", "c_n"), as_tuple(state_np), state, strict=False):
        close(a, b, name)
    close(dx, x.grad, "d_x")
    close(ours.d_h0, h0[0].grad, "d_h0")
    if len(h0) > 1:
        close(ours.d_c0, h0[1].grad, "d_c0")
    assert set(grads) == set(dict(theirs.named_parameters()))
    for name, p in theirs.named_parameters():
        close(grads[name], p.grad, name)


@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first):
    ours, theirs = make_pair(
        kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    x = torch.randn((N, T, H_IN) if batch_first else (T, N, H_IN), dtype=torch.float64)
    check_against_torch(ours, theirs, x, random_h0(theirs))


@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_without_bias_matches_torch(kind):
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=True, bias=False)
    assert not any("bias" in name for name in ours.params)
    check_against_torch(
        ours, theirs, torch.randn(T, N, H_IN, dtype=torch.float64), random_h0(theirs)
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input_matches_torch(kind):
    """2-D x (T, H_in) and h0 (L*D, H_out), as torch.nn accepts."""
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=True)
    check_against_torch(
        ours, theirs, torch.randn(T, H_IN, dtype=torch.float64), random_h0(theirs, batch=())
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_default_h0_is_zeros(kind):
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=True)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    zeros = tuple(torch.zeros_like(h) for h in random_h0(theirs))
    out_a, state_a = ours.forward(x.numpy())
    out_b, state_b = ours.forward(x.numpy(), zeros if len(zeros) > 1 else zeros[0])
    np.testing.assert_array_equal(out_a, out_b)
    for a, b in zip(as_tuple(state_a), as_tuple(state_b), strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_without_d_state_and_twice():
    """d_state=None means zero; backward reads the caches and may be called again."""
    ours, theirs = make_pair("lstm", num_layers=2)
    x = np.random.default_rng(0).standard_normal((T, N, H_IN))
    out, (h_n, c_n) = ours.forward(x)
    d_out = np.ones_like(out)
    dx_a, grads_a = ours.backward(d_out)
    dx_b, grads_b = ours.backward(d_out, (np.zeros_like(h_n), None))
    np.testing.assert_array_equal(dx_a, dx_b)
    for name in grads_a:
        np.testing.assert_array_equal(grads_a[name], grads_b[name])


def test_forward_does_not_mutate_inputs():
    ours, _ = make_pair("gru", num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((T, N, H_IN)), rng.standard_normal((4, N, H))
    x_copy, h0_copy = x.copy(), h0.copy()
    out, _ = ours.forward(x, h0, lengths=[5, 2, 3])
    ours.backward(np.ones_like(out))
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(h0, h0_copy)


@pytest.mark.parametrize("kind", list(KINDS))
def test_chunks_with_carried_state_equal_the_full_sequence(kind):
    """Truncated BPTT's forward: two chunks, the state carried over, equal one run (exactly)."""
    ours, _ = make_pair(kind, num_layers=2)
    x = np.random.default_rng(0).standard_normal((T, N, H_IN))
    out, state = ours.forward(x)
    out_a, state_a = ours.forward(x[:2])
    out_b, state_b = ours.forward(x[2:], state_a)
    np.testing.assert_array_equal(np.concatenate([out_a, out_b]), out)
    for a, b in zip(as_tuple(state_b), as_tuple(state), strict=True):
        np.testing.assert_array_equal(a, b)
