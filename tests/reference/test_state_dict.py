"""Parameters: torch's names, shapes and initialiser; state dicts load both ways."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnkit.reference as ref

LAYERS = {
    "rnn": (ref.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (ref.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (ref.GRU, torch.nn.GRU, {}),
}
CELLS = {
    "rnn": (ref.RNNCell, torch.nn.RNNCell),
    "lstm": (ref.LSTMCell, torch.nn.LSTMCell),
    "gru": (ref.GRUCell, torch.nn.GRUCell),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_names_shapes_and_count_match_torch(kind, bias):
    ours_cls, torch_cls, extra = LAYERS[kind]
    kwargs = dict(num_layers=3, bidirectional=True, bias=bias, **extra)
    ours, theirs = ours_cls(5, 7, **kwargs), torch_cls(5, 7, **kwargs)
    shapes = {name: tuple(p.shape) for name, p in theirs.state_dict().items()}
    assert list(ours.params) == list(shapes)  # same names, same order
    assert {name: p.shape for name, p in ours.params.items()} == shapes
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    assert all(p.dtype == np.float64 for p in ours.params.values())


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_names_and_shapes_match_torch(kind):
    ours_cls, torch_cls = CELLS[kind]
    shapes = {name: tuple(p.shape) for name, p in torch_cls(5, 7).state_dict().items()}
    assert {name: p.shape for name, p in ours_cls(5, 7).params.items()} == shapes


@pytest.mark.parametrize("kind", list(LAYERS))
def test_init_is_uniform_and_seeded(kind):
    ours_cls, _, extra = LAYERS[kind]
    a, b, c = (ours_cls(5, 16, num_layers=2, seed=s, **extra) for s in (1, 1, 2))
    bound = 1 / math.sqrt(16)
    for name, p in a.params.items():
        assert np.abs(p).max() <= bound
        np.testing.assert_array_equal(p, b.params[name])
        assert not np.array_equal(p, c.params[name])
    everything = np.concatenate([p.ravel() for p in a.params.values()])
    assert abs(everything.mean()) < 0.05 * bound and everything.std() > 0.5 * bound


@pytest.mark.parametrize("kind", list(LAYERS))
def test_state_dict_round_trip_through_torch(kind):
    """ours -> torch.nn -> ours: the torch module computes what ours computes."""
    ours_cls, torch_cls, extra = LAYERS[kind]
    ours = ours_cls(5, 7, num_layers=2, bidirectional=True, seed=0, **extra)
    theirs = torch_cls(5, 7, num_layers=2, bidirectional=True, **extra).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 5))
    with torch.no_grad():
        out_t, _ = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(ours.forward(x)[0], out_t.numpy(), rtol=1e-10, atol=1e-10)

    again = ours_cls(5, 7, num_layers=2, bidirectional=True, seed=9, **extra)
    again.load_state_dict(theirs.state_dict())
    for name, p in ours.params.items():
        np.testing.assert_array_equal(again.params[name], p)


def test_state_dict_and_load_copy():
    layer = ref.GRU(3, 4, seed=0)
    sd = layer.state_dict()
    sd["weight_ih_l0"][...] = 7.0
    assert not np.any(layer.params["weight_ih_l0"] == 7.0)
    source = torch.nn.GRU(3, 4).state_dict()
    held = layer.params["weight_hh_l0"]
    layer.load_state_dict(source)
    assert layer.params["weight_hh_l0"] is held  # loaded in place, float64
    assert held.dtype == np.float64
    source["weight_hh_l0"].fill_(5.0)
    assert not np.any(held == 5.0)
