"""Right-padded batches with ``lengths``.

Two oracles: (1) running each sequence alone, unpadded, through the same reference layer; and
(2) torch.nn on ``pack_padded_sequence(..., enforce_sorted=False)``. Outputs, final states,
d_input, d_h0 and every parameter gradient must agree to 1e-10 (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.reference as ref

TOL = 1e-10
KINDS = {
    "rnn_tanh": (ref.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (ref.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (ref.LSTM, torch.nn.LSTM, {"proj_size": 2}),
    "gru": (ref.GRU, torch.nn.GRU, {}),
}
H_IN, H, T = 3, 4, 6
LENGTHS = [6, 2, 4, 1]  # unsorted, with the longest first and a length-1 sequence


def as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def unpack(parts: tuple):
    return parts if len(parts) > 1 else parts[0]


def close(a, b, what: str) -> None:
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=what)


def random_problem(layer: ref.Recurrent, seed: int = 0):
    """x (T, N, H_in), h0 parts, R (like the output), S (like the state), all time-major."""
    rng = np.random.default_rng(seed)
    N, D = len(LENGTHS), layer.num_directions
    rows = layer.num_layers * D
    x = rng.standard_normal((T, N, H_IN))
    h0 = tuple(rng.standard_normal((rows, N, s)) for s in layer.state_sizes)
    R = rng.standard_normal((T, N, D * layer.output_size))
    S = tuple(rng.standard_normal((rows, N, s)) for s in layer.state_sizes)
    return x, h0, R, S


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_padded_batch_equals_each_sequence_alone(kind, bidirectional):
    layer_cls, _, extra = KINDS[kind]
    layer = layer_cls(H_IN, H, num_layers=2, bidirectional=bidirectional, seed=0, **extra)
    x, h0, R, S = random_problem(layer)
    lengths = np.array(LENGTHS)
    mask = np.arange(T)[:, None] < lengths[None, :]  # (T, N)
    # R is nonzero past the ends too: those outputs are constant zeros, so it must be ignored.

    out, state = layer.forward(x, unpack(h0), lengths=lengths)
    dx, grads = layer.backward(R, unpack(S))
    d_h0 = (layer.d_h0, *((layer.d_c0,) if len(h0) > 1 else ()))
    assert np.all(out[~mask] == 0.0), "outputs past each sequence's end must be zero"
    assert np.all(dx[~mask] == 0.0), "padding gets no gradient"

    summed = {name: np.zeros_like(g) for name, g in grads.items()}
    for n, L in enumerate(LENGTHS):
        one = slice(n, n + 1)
        out_n, state_n = layer.forward(x[:L, one], unpack(tuple(h[:, one] for h in h0)))
        dx_n, grads_n = layer.backward(R[:L, one], unpack(tuple(s[:, one] for s in S)))
        close(out[:L, one], out_n, f"output of sequence {n}")
        for part, a in zip(as_tuple(state), as_tuple(state_n), strict=True):
            close(part[:, one], a, f"final state of sequence {n}")
        close(dx[:L, one], dx_n, f"d_x of sequence {n}")
        d_h0_n = (layer.d_h0, *((layer.d_c0,) if len(h0) > 1 else ()))
        for part, a in zip(d_h0, d_h0_n, strict=True):
            close(part[:, one], a, f"d_h0 of sequence {n}")
        for name, g in grads_n.items():
            summed[name] += g
    for name, g in grads.items():
        close(g, summed[name], name)


@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_lengths_match_torch_packed(kind, bidirectional, batch_first):
    layer_cls, torch_cls, extra = KINDS[kind]
    kwargs = dict(num_layers=2, bidirectional=bidirectional, batch_first=batch_first, **extra)
    theirs = torch_cls(H_IN, H, **kwargs).double()
    ours = layer_cls(H_IN, H, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    x, h0, R, S = random_problem(ours, seed=1)
    if batch_first:
        x, R = x.transpose(1, 0, 2), R.transpose(1, 0, 2)

    x_t = torch.tensor(x, requires_grad=True)
    h0_t = tuple(torch.tensor(h, requires_grad=True) for h in h0)
    packed = pack_padded_sequence(
        x_t, torch.tensor(LENGTHS), batch_first=batch_first, enforce_sorted=False
    )
    out_packed, state_t = theirs(packed, unpack(h0_t))
    out_t, _ = pad_packed_sequence(out_packed, batch_first=batch_first, total_length=T)
    state_t = as_tuple(state_t)
    loss = (out_t * torch.tensor(R)).sum()
    loss = loss + sum((s * torch.tensor(w)).sum() for s, w in zip(state_t, S, strict=True))
    loss.backward()

    out, state = ours.forward(x, unpack(h0), lengths=LENGTHS)
    dx, grads = ours.backward(R, unpack(S))
    close(out, out_t.detach().numpy(), "output")
    for a, b in zip(as_tuple(state), state_t, strict=True):
        close(a, b.detach().numpy(), "final state")
    close(dx, x_t.grad.numpy(), "d_x")
    close(ours.d_h0, h0_t[0].grad.numpy(), "d_h0")
    if len(h0) > 1:
        close(ours.d_c0, h0_t[1].grad.numpy(), "d_c0")
    for name, p in theirs.named_parameters():
        close(grads[name], p.grad.numpy(), name)


def test_full_lengths_equal_no_lengths():
    layer = ref.LSTM(H_IN, H, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((T, 2, H_IN))
    out_a, (h_a, c_a) = layer.forward(x)
    out_b, (h_b, c_b) = layer.forward(x, lengths=torch.tensor([T, T]))
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(h_a, h_b)
    np.testing.assert_array_equal(c_a, c_b)
