"""Cells: parity with torch.nn.*Cell, gradient checks, layer norm and recurrent dropout semantics,
and a user-defined cell getting every layer feature from ``Recurrent``."""

from __future__ import annotations

import functools

import pytest
import torch

import rnnkit.nn as rnn
from support.layers import TOL, assert_close

CELLS = {
    "rnn_tanh": (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (rnn.GRUCell, torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_torch_both_ways(kind, bias):
    ours_cls, torch_cls, extra = CELLS[kind]
    theirs = torch_cls(5, 4, bias=bias, **extra).double()
    ours = ours_cls(5, 4, bias=bias, **extra).double()
    ours.load_state_dict(theirs.state_dict())
    again = torch_cls(5, 4, bias=bias, **extra).double()
    again.load_state_dict(ours.state_dict())  # and back again, no conversion
    x = torch.randn(3, 5, dtype=torch.float64)
    hx = torch.randn(3, 4, dtype=torch.float64)
    state = (hx, torch.randn(3, 4, dtype=torch.float64)) if kind == "lstm" else hx
    tol = TOL[torch.float64]
    for a, b in zip(
        torch.utils._pytree.tree_leaves(ours(x, state)),
        torch.utils._pytree.tree_leaves(again(x, state)),
        strict=True,
    ):
        assert_close(a, b, tol, kind)
    # unbatched input, no state
    for a, b in zip(
        torch.utils._pytree.tree_leaves(ours(x[0])),
        torch.utils._pytree.tree_leaves(theirs(x[0])),
        strict=True,
    ):
        assert_close(a, b, tol, f"{kind} unbatched")


def _cell_variants():
    for kind, (cls, _, extra) in CELLS.items():
        for layer_norm in (False, True):
            yield pytest.param(
                cls, {**extra, "layer_norm": layer_norm}, id=f"{kind}-ln{layer_norm}"
            )
    yield pytest.param(rnn.LSTMCell, {"proj_size": 2}, id="lstm-proj")
    yield pytest.param(rnn.LSTMCell, {"proj_size": 2, "layer_norm": True}, id="lstm-proj-ln")


@pytest.mark.parametrize("cls,kwargs", list(_cell_variants()))
def test_gradcheck_every_cell(cls, kwargs):
    cell = cls(3, 4, **kwargs).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(
        torch.randn(2, s, dtype=torch.float64, requires_grad=True) for s in cell.state_sizes
    )
    params = tuple(cell.parameters())

    def f(x, *state_and_params):
        return cell(x, state_and_params[: len(state)] if len(state) > 1 else state_and_params[0])

    assert torch.autograd.gradcheck(f, (x, *state), eps=1e-6, atol=1e-7)
    # gradients w.r.t. the parameters, through torch.func.functional_call
    names = [n for n, _ in cell.named_parameters()]

    def g(*flat):
        out = torch.func.functional_call(cell, dict(zip(names, flat, strict=True)), (x, state))
        return out if isinstance(out, torch.Tensor) else torch.cat(out, -1)

    assert torch.autograd.gradcheck(g, tuple(p.detach().requires_grad_() for p in params))


@pytest.mark.parametrize("cls", [rnn.RNNCell, rnn.LSTMCell, rnn.GRUCell])
def test_layer_norm_makes_the_cell_invariant_to_input_weight_scale(cls):
    """LN(a W x) = LN(W x) up to LayerNorm's eps (1e-5): scaling weight_ih by 7.5 leaves a
    layer-normalised step unchanged to 1e-3, while a plain cell's output changes by > 0.05."""

    def change(layer_norm: bool) -> float:
        torch.manual_seed(3)
        cell = cls(3, 4, layer_norm=layer_norm, bias=False).double()
        x = torch.randn(5, 3, dtype=torch.float64)
        before = torch.cat(torch.utils._pytree.tree_leaves(cell(x)), -1)
        with torch.no_grad():
            cell.weight_ih.mul_(7.5)
        after = torch.cat(torch.utils._pytree.tree_leaves(cell(x)), -1)
        return (before - after).abs().max().item()

    assert change(layer_norm=True) < 1e-3
    assert change(layer_norm=False) > 0.05


def test_recurrent_dropout_uses_one_mask_per_sequence():
    """h_t = relu(1 + m * h_{t-1}) with W_hh = I: a dropped unit stays at 1, a kept one grows."""
    p = 0.5
    layer = rnn.RNN(1, 64, nonlinearity="relu", recurrent_dropout=p).double()
    cell = layer.cells[0]
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.bias_ih.fill_(1.0)
        cell.bias_hh.zero_()
        cell.weight_hh.copy_(torch.eye(64))
    x = torch.zeros(6, 3, 1, dtype=torch.float64)
    out, _ = layer.train()(x)  # (6, 3, 64)
    dropped = torch.all(out == 1.0, dim=0)  # (3, 64): unit stayed at 1 over the whole sequence
    growing = torch.all(out[1:] > out[:-1], dim=0)
    assert torch.all(dropped ^ growing), "each unit must be dropped at every step or at none"
    assert 0.2 < dropped.double().mean() < 0.8
    assert not torch.equal(dropped[0], dropped[1]), "sequences draw their own masks"
    out_eval, _ = layer.eval()(x)
    assert torch.all(out_eval[1:] > out_eval[:-1]), "no dropout in eval mode"


class PeepholeFreeMinimalCell(rnn.RecurrentCell):
    """A user's cell: h' = tanh(x_proj + U h), with its own parameter names."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.state_sizes = (
            input_size,
            hidden_size,
            (hidden_size,),
        )
        self.weight_in = torch.nn.Parameter(torch.randn(hidden_size, input_size) * 0.3)
        self.weight_rec = torch.nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.3)

    def project_input(self, x):
        return x @ self.weight_in.t()

    def step(self, x_proj, state, h_mask=None):
        (h,) = state
        return (torch.tanh(x_proj + h @ self.weight_rec.t()),)


def test_user_cell_gets_every_layer_feature():
    make = functools.partial(PeepholeFreeMinimalCell, hidden_size=4)
    layer = rnn.Recurrent(make, input_size=3, num_layers=2, bidirectional=True, batch_first=True)
    layer = layer.double()
    assert set(layer.state_dict()) == {
        f"{name}_l{k}{suffix}"
        for name in ("weight_in", "weight_rec")
        for k in (0, 1)
        for suffix in ("", "_reverse")
    }
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, h = layer(x, lengths=[5, 3])
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4)
    out_alone, h_alone = layer(x[1:, :3])
    assert_close(out[1:, :3], out_alone, 1e-12, "user cell with lengths")
    assert_close(h[:, 1:], h_alone, 1e-12, "user cell final state")
    clone = rnn.Recurrent(make, input_size=3, num_layers=2, bidirectional=True, batch_first=True)
    clone.double().load_state_dict(layer.state_dict())
    assert torch.equal(clone(x)[0], layer(x)[0])
