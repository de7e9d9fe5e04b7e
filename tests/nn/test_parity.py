"""Parity: rnnkit.nn (fused and unfused), torch.nn and the NumPy reference compute the same.

Weights come from one source (a torch.nn layer's state dict). Outputs, final states, the gradient
w.r.t. the input and every parameter gradient must agree within 1e-10 in float64 and 1e-5 in
float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit.reference as ref
from support.layers import KINDS, TOL, as_tuple, assert_close, projection_loss, run_with_grads

GRID = [
    (kind, layers, bi, bf)
    for kind in KINDS
    for layers in (1, 2)
    for bi in (False, True)
    for bf in (False, True)
]


def _make(kind, layers, bi, bf, dtype, fused):
    ours_cls, torch_cls, extra = KINDS[kind]
    base = torch_cls(5, 4, num_layers=layers, bidirectional=bi, batch_first=bf, **extra).to(dtype)
    ours = ours_cls(5, 4, num_layers=layers, bidirectional=bi, batch_first=bf, fused=fused, **extra)
    ours = ours.to(dtype)
    ours.load_state_dict(base.state_dict())
    return base, ours


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cells"])
@pytest.mark.parametrize("kind,layers,bi,bf", GRID)
def test_rnnkit_matches_torch(kind, layers, bi, bf, fused, dtype):
    base, ours = _make(kind, layers, bi, bf, dtype, fused)
    x = torch.randn((3, 6, 5) if bf else (6, 3, 5), dtype=dtype)
    out_t, state_t, dx_t, g_t = run_with_grads(base, x)
    out_o, state_o, dx_o, g_o = run_with_grads(ours, x)
    tol = TOL[dtype]
    assert_close(out_o, out_t, tol, "output")
    for a, b in zip(state_o, state_t, strict=True):
        assert_close(a, b, tol, "final state")
    assert_close(dx_o, dx_t, tol, "d input")
    assert g_o.keys() == g_t.keys()
    for name in g_t:
        assert_close(g_o[name], g_t[name], tol, name)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("kind,layers,bi,bf", GRID)
def test_reference_matches_rnnkit(kind, layers, bi, bf, with_lengths):
    """The NumPy reference (hand-written BPTT) against rnnkit's cells, float64."""
    base, ours = _make(kind, layers, bi, bf, torch.float64, fused=False)
    ref_cls = {"rnn": ref.RNN, "lstm": ref.LSTM, "gru": ref.GRU}[kind.split("_")[0]]
    extra = KINDS[kind][2]
    numpy_layer = ref_cls(5, 4, num_layers=layers, bidirectional=bi, batch_first=bf, **extra)
    numpy_layer.load_state_dict(base.state_dict())

    x = torch.randn((3, 6, 5) if bf else (6, 3, 5), dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4]) if with_lengths else None
    x_leaf = x.clone().requires_grad_(True)
    output, state = ours(x_leaf, lengths=lengths)
    state = as_tuple(state)
    # d loss / d output for the projection loss is R (and S for the state): take them from autograd.
    output.retain_grad()
    for s in state:
        s.retain_grad()
    projection_loss(output, state).backward()

    out_np, state_np = numpy_layer.forward(
        x.numpy(), lengths=None if lengths is None else lengths.numpy()
    )
    d_state = tuple(s.grad.numpy() for s in state)
    dx_np, grads_np = numpy_layer.backward(
        output.grad.numpy(), d_state if len(d_state) > 1 else d_state[0]
    )
    tol = TOL[torch.float64]
    np.testing.assert_allclose(out_np, output.detach().numpy(), rtol=tol, atol=tol)
    for a, b in zip(as_tuple(state_np), state, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx_np, x_leaf.grad.numpy(), rtol=tol, atol=tol)
    for name in ours.state_dict():
        np.testing.assert_allclose(
            grads_np[name], getattr(ours, name).grad.numpy(), rtol=tol, atol=tol, err_msg=name
        )
    assert set(grads_np) == set(ours.state_dict())
