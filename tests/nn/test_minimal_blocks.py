"""MinimalBlocks: the paper's stack of pre-norm residual minGRU/minLSTM + MLP blocks.

float64 throughout, tolerance 1e-10: the scan (fused="auto") against the cells stepped one by
one (fused=False), padding against the sequence alone, one token at a time with the carried
state against the whole sequence, and torch.autograd.gradcheck of the whole stack.
"""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import MinimalBlocks


def blocks(cell: str, fused="auto") -> MinimalBlocks:
    torch.manual_seed(0)
    return MinimalBlocks(3, 8, num_layers=2, cell=cell, batch_first=True, fused=fused).double()


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_scan_matches_the_stepped_cells(cell):
    scan, steps = blocks(cell), blocks(cell, fused=False)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 2, 5, 7])
    out_a, h_a = scan(x, lengths=lengths)
    out_b, h_b = steps(x, lengths=lengths)
    torch.testing.assert_close(h_a, h_b, rtol=1e-10, atol=1e-10)
    for n, length in enumerate(lengths):
        torch.testing.assert_close(out_a[n, :length], out_b[n, :length], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_padding_never_reaches_a_real_step(cell):
    model = blocks(cell)
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    out, h = model(x, lengths=torch.tensor([9, 4]))
    alone, h_alone = model(x[1:, :4])
    torch.testing.assert_close(out[1, :4], alone[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h[:, 1], h_alone[:, 0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_generation_one_token_at_a_time_matches_the_sequence(cell):
    model = blocks(cell).eval()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    whole, h_whole = model(x)
    h, outs = None, []
    with torch.no_grad():
        for t in range(6):
            out, h = model(x[:, t : t + 1], h)
            outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), whole.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, h_whole.detach(), rtol=1e-10, atol=1e-10)


def test_gradcheck():
    torch.manual_seed(0)
    model = MinimalBlocks(2, 4, num_layers=2, expansion=2, batch_first=True).double()
    x = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: model(v)[0].sum(), (x,))


def test_refuses_an_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        MinimalBlocks(3, 8, cell="lstm")
