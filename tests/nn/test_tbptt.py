"""Truncated BPTT: a long sequence run in chunks with the state carried equals one pass."""

from __future__ import annotations

import pytest
import torch

from support.layers import KINDS, TOL, as_tuple, assert_close


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cells"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "lstm_proj"])
def test_chunks_with_carried_state_equal_one_pass(kind, fused):
    ours_cls, _, extra = KINDS[kind]
    layer = ours_cls(3, 5, num_layers=2, batch_first=True, fused=fused, **extra).double()
    x = torch.randn(2, 23, 3, dtype=torch.float64)
    full_out, full_state = layer(x)
    outs, state = [], None
    for chunk in x.split(5, dim=1):  # 5 + 5 + 5 + 5 + 3 steps
        out, state = layer(chunk, state)
        state = tuple(s.detach() for s in as_tuple(state))  # the TBPTT boundary
        state = state if len(state) > 1 else state[0]
        outs.append(out)
    tol = TOL[torch.float64]
    assert_close(torch.cat(outs, dim=1), full_out, tol, "chunked output")
    for a, b in zip(as_tuple(state), as_tuple(full_state), strict=True):
        assert_close(a, b, tol, "final state")


def test_detached_chunks_cut_the_gradient_at_the_boundary():
    layer = KINDS["lstm"][0](3, 5).double()
    x = torch.randn(10, 2, 3, dtype=torch.float64, requires_grad=True)
    _, (h, c) = layer(x[:5])
    out, _ = layer(x[5:], (h.detach(), c.detach()))
    out.sum().backward()
    assert torch.all(x.grad[:5] == 0) and torch.any(x.grad[5:] != 0)
