"""dL/dh_t of every layer and direction of a small model against brute force: the model rebuilt
from torch.nn cells, a zero nudge added to each h_t, one backward per step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn
from rnnkit.diagnose import analyse, gradients_through_time

F64 = torch.float64
L, N, I, H = 6, 3, 2, 4


class Tiny(nn.Module):
    """A bidirectional 2-layer encoder and a head on the last step: a loss at the end."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.encoder = rnn.make_encoder(kind, I, H, 2, batch_first=False, bidirectional=True)
        self.head = nn.Linear(2 * H, 1)

    def forward(self, x):
        out, _ = self.encoder(x)
        return self.head(out[-1]).squeeze(-1)


def _loss(model, x, y):
    return (model(x) - y).pow(2).mean()


TORCH_CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}


def _minimal_step(cell):
    """A minimal cell (no torch.nn counterpart) as a torch.nn-style step: (x_t, h) -> h."""

    def step(x_t, h):
        h = torch.zeros(x_t.shape[0], cell.hidden_size, dtype=x_t.dtype) if h is None else h
        return cell.step(cell.project_input(x_t), (h,))[0]

    return step


def _brute_force(model, kind, x, y):
    """{(layer, direction): (L, N, H) dL/dh_t by input position}, from torch.nn cells (for the
    minimal cells, which torch lacks, from their own step function)."""
    weights = model.encoder.state_dict()
    nudges = {(k, d): [torch.zeros(N, H, dtype=F64, requires_grad=True) for _ in range(L)]
              for k in range(2) for d in range(2)}  # fmt: skip
    layer_input = x
    for k in range(2):
        outs = []
        for d in range(2):
            if kind in TORCH_CELLS:
                cell = TORCH_CELLS[kind](layer_input.shape[-1], H).to(F64)
                suffix = f"_l{k}" + ("_reverse" if d else "")
                cell.load_state_dict({n: weights[n + suffix] for n in cell.state_dict()})
            else:
                cell = _minimal_step(model.encoder.cells[2 * k + d])
            state, hs = None, [None] * L
            order = range(L - 1, -1, -1) if d else range(L)
            for t in order:  # nudge index = input position t
                state = cell(layer_input[t], state)
                h = (state[0] if isinstance(state, tuple) else state) + nudges[k, d][t]
                state = (h, state[1]) if isinstance(state, tuple) else h
                hs[t] = h
            outs.append(torch.stack(hs))
        layer_input = torch.cat(outs, dim=-1)
    loss = (model.head(layer_input[-1]).squeeze(-1) - y).pow(2).mean()
    return loss, {
        key: torch.stack([torch.autograd.grad(loss, e, retain_graph=True)[0] for e in es])
        for key, es in nudges.items()
    }


@pytest.mark.parametrize("kind", sorted(rnn.ENCODERS))
def test_gradients_through_time_equal_one_backward_per_step(kind):
    torch.manual_seed(1)
    model = Tiny(kind).to(F64)
    x, y = torch.randn(L, N, I, dtype=F64), torch.randn(N, dtype=F64)
    expected_loss, expected = _brute_force(model, kind, x, y)
    loss, steps = gradients_through_time(model, lambda m: _loss(m, x, y))
    assert loss == pytest.approx(float(expected_loss.detach()), rel=1e-12)
    assert [(s.module, s.call, s.layer, s.direction) for s in steps] == [
        ("encoder", 0, k, d) for k in range(2) for d in range(2)
    ]
    assert steps[1].label == f"encoder:{kind} l0 bwd"
    for s in steps:
        grads = expected[s.layer, s.direction]
        torch.testing.assert_close(s.record.grads(), grads, rtol=1e-9, atol=1e-13)
        torch.testing.assert_close(s.grad_norms(), grads.flatten(1).norm(dim=1), rtol=1e-9,
                                   atol=1e-13)  # fmt: skip


def test_analyse_reports_every_layer_with_numbers_only():
    torch.manual_seed(0)
    model = Tiny("lstm").to(F64)
    x, y = torch.randn(L, N, I, dtype=F64), torch.randn(N, dtype=F64)
    result = analyse(model, lambda m: _loss(m, x, y), samples=2, points=3, iterations=50)
    assert [s.label for s in result.series][:2] == ["encoder:lstm l0 fwd", "encoder:lstm l0 bwd"]
    first = result.series[0]
    assert len(first.grad_norms) == L and first.lags == [0, 2, 5]
    assert first.sigma_mean[0] == pytest.approx(1.0)  # lag 0
    assert all(lo <= m <= hi for lo, m, hi in zip(first.sigma_min, first.sigma_mean,
                                                   first.sigma_max))  # fmt: skip
    assert sorted(result.spectra) == sorted(
        f"encoder:lstm l{k} {d}" for k in range(2) for d in ("fwd", "bwd")
    )
    assert list(result.spectra["encoder:lstm l1 bwd"]) == list("ifgo")


def test_a_loss_without_gradient_is_refused():
    model = Tiny("gru")
    x = torch.randn(L, N, I)
    with pytest.raises(ValueError, match="scalar"):
        gradients_through_time(model, lambda m: m(x))
    with pytest.raises(ValueError, match="does not depend"):
        gradients_through_time(model, lambda m: m(x).detach().sum())
