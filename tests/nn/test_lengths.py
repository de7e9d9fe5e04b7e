"""Variable-length batches: lengths, padding and PackedSequence against one-sequence-at-a-time runs.

A right-padded batch run with ``lengths`` must give, for every sequence, the outputs, final states
and gradients of running that sequence alone (float64, 1e-10), in both directions, on the fused
and the cell paths; a PackedSequence must give the same as ``lengths``.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from support.layers import KINDS, TOL, as_tuple, assert_close, flat_parameters

LENGTHS = [5, 2, 7, 1]


def _layer(kind, fused, bi, layers=2):
    ours_cls, _, extra = KINDS[kind]
    return ours_cls(3, 4, num_layers=layers, bidirectional=bi, fused=fused, **extra).double()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cells"])
@pytest.mark.parametrize("bi", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_padded_batch_equals_each_sequence_alone(kind, bi, fused):
    layer = _layer(kind, fused, bi)
    T, N = max(LENGTHS), len(LENGTHS)
    x = torch.randn(T, N, 3, dtype=torch.float64)
    x[torch.arange(T)[:, None] >= torch.tensor(LENGTHS)[None, :]] = 7.0  # padding must not leak
    weights = torch.randn(T, N, layer.num_directions * layer.output_size, dtype=torch.float64)

    xb = x.clone().requires_grad_(True)
    out, state = layer(xb, lengths=torch.tensor(LENGTHS))
    state = as_tuple(state)
    (out * weights).sum().backward()
    batch_grads = {k: p.grad.clone() for k, p in flat_parameters(layer).items()}

    tol = TOL[torch.float64]
    summed = {k: torch.zeros_like(g) for k, g in batch_grads.items()}
    for n, length in enumerate(LENGTHS):
        layer.zero_grad()
        xs = x[:length, n : n + 1].clone().requires_grad_(True)
        out_n, state_n = layer(xs)
        (out_n * weights[:length, n : n + 1]).sum().backward()
        assert_close(out[:length, n : n + 1], out_n, tol, f"output of sequence {n}")
        assert torch.all(out[length:, n] == 0), "outputs past the end must be zero"
        for s_batch, s_alone in zip(state, as_tuple(state_n), strict=True):
            assert_close(s_batch[:, n : n + 1], s_alone, tol, f"final state of sequence {n}")
        assert_close(xb.grad[:length, n : n + 1], xs.grad, tol, f"d input of sequence {n}")
        assert torch.all(xb.grad[length:, n] == 0)
        for k, p in flat_parameters(layer).items():
            summed[k] += p.grad
    for k in batch_grads:
        assert_close(batch_grads[k], summed[k], tol, f"gradient {k}")


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cells"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "lstm_proj"])
def test_packed_sequence_equals_lengths(kind, fused):
    layer = _layer(kind, fused, bi=True)
    x = torch.randn(len(LENGTHS), max(LENGTHS), 3, dtype=torch.float64)  # batch_first
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    out_p, state_p = layer(packed)
    out_l, state_l = layer(x.transpose(0, 1), lengths=LENGTHS)
    assert isinstance(out_p, torch.nn.utils.rnn.PackedSequence)
    padded, lengths = pad_packed_sequence(out_p, total_length=max(LENGTHS))
    assert lengths.tolist() == LENGTHS
    tol = TOL[torch.float64]
    assert_close(padded, out_l, tol, "output")
    for a, b in zip(as_tuple(state_p), as_tuple(state_l), strict=True):
        assert_close(a, b, tol, "final state")
    # and the packed data is laid out exactly as torch.nn lays it out
    base_cls = KINDS[kind][1]
    base = base_cls(3, 4, num_layers=2, bidirectional=True, **KINDS[kind][2]).double()
    base.load_state_dict(layer.state_dict())
    assert_close(out_p.data, base(packed)[0].data, tol, "packed data vs torch.nn")


def test_batch_first_and_unbatched_inputs():
    layer = _layer("lstm", "auto", bi=True).eval()
    x = torch.randn(6, 3, dtype=torch.float64)
    out_u, (h_u, c_u) = layer(x)
    out_b, (h_b, c_b) = layer(x.unsqueeze(1))
    assert out_u.shape == (6, 8) and h_u.shape == (4, 4) and c_u.shape == (4, 4)
    assert_close(out_u, out_b[:, 0], 0, "unbatched output")
    assert_close(h_u, h_b[:, 0], 0, "unbatched h_n")


def test_full_lengths_take_the_plain_path():
    layer = _layer("gru", False, bi=True)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    out_a, h_a = layer(x)
    out_b, h_b = layer(x, lengths=[4, 4])
    assert torch.equal(out_a, out_b) and torch.equal(h_a, h_b)
