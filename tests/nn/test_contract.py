"""One contract over every public rnnkit.nn module, from a table.

Shapes, parameter count equal to torch's where the options match, state-dict round trip through
a file loaded with ``weights_only=True``, one optimiser step lowers a loss, inputs are not
mutated, and the same on CUDA when a GPU is present.
"""

from __future__ import annotations

import functools

import pytest
import torch

import rnnkit.nn as rnn

# name -> (factory, torch twin or None, input shape, expected output shape, state shapes)
N, L, I, H = 3, 7, 5, 6
TABLE = {
    "RNN": (lambda: rnn.RNN(I, H), lambda: torch.nn.RNN(I, H), (L, N, I), (L, N, H), [(1, N, H)]),
    "RNN-relu-2x-bi": (
        lambda: rnn.RNN(I, H, 2, nonlinearity="relu", bidirectional=True),
        lambda: torch.nn.RNN(I, H, 2, nonlinearity="relu", bidirectional=True),
        (L, N, I),
        (L, N, 2 * H),
        [(4, N, H)],
    ),
    "LSTM-bf": (
        lambda: rnn.LSTM(I, H, batch_first=True),
        lambda: torch.nn.LSTM(I, H, batch_first=True),
        (N, L, I),
        (N, L, H),
        [(1, N, H), (1, N, H)],
    ),
    "LSTM-proj-2x-bi": (
        lambda: rnn.LSTM(I, H, 2, proj_size=2, bidirectional=True, dropout=0.1),
        lambda: torch.nn.LSTM(I, H, 2, proj_size=2, bidirectional=True, dropout=0.1),
        (L, N, I),
        (L, N, 4),
        [(4, N, 2), (4, N, H)],
    ),
    "LSTM-layernorm": (
        lambda: rnn.LSTM(I, H, 2, layer_norm=True),
        None,
        (L, N, I),
        (L, N, H),
        [(2, N, H), (2, N, H)],
    ),
    "LSTM-recurrent-dropout": (
        lambda: rnn.LSTM(I, H, recurrent_dropout=0.3),
        lambda: torch.nn.LSTM(I, H),
        (L, N, I),
        (L, N, H),
        [(1, N, H), (1, N, H)],
    ),
    "GRU-bi": (
        lambda: rnn.GRU(I, H, bidirectional=True),
        lambda: torch.nn.GRU(I, H, bidirectional=True),
        (L, N, I),
        (L, N, 2 * H),
        [(2, N, H)],
    ),
    "GRU-layernorm-cells": (
        lambda: rnn.GRU(I, H, layer_norm=True, fused=False),
        None,
        (L, N, I),
        (L, N, H),
        [(1, N, H)],
    ),
    "Recurrent(GRUCell)": (
        lambda: rnn.Recurrent(functools.partial(rnn.GRUCell, hidden_size=H), I, num_layers=2),
        lambda: torch.nn.GRU(I, H, 2),
        (L, N, I),
        (L, N, H),
        [(2, N, H)],
    ),
    "LSTMCell": (
        lambda: rnn.LSTMCell(I, H),
        lambda: torch.nn.LSTMCell(I, H),
        (N, I),
        None,
        [(N, H), (N, H)],
    ),
    "GRUCell-layernorm": (lambda: rnn.GRUCell(I, H, layer_norm=True), None, (N, I), None, [(N, H)]),
    "RNNCell": (lambda: rnn.RNNCell(I, H), lambda: torch.nn.RNNCell(I, H), (N, I), None, [(N, H)]),
    # convolutional cells over 1-, 2- and 3-D frames (C_in 2, C_h 3; frames of size 5, 5x4, 3x4x2)
    "ConvLSTM-1d-bi": (
        lambda: rnn.ConvLSTM(2, 3, 3, dims=1, bidirectional=True),
        None,
        (L, N, 2, 5),
        (L, N, 6, 5),
        [(2, N, 3, 5), (2, N, 3, 5)],
    ),
    "ConvLSTM-2d-2x-peephole-bf": (
        lambda: rnn.ConvLSTM(2, 3, 3, 2, num_layers=2, peephole=True, batch_first=True),
        None,
        (N, L, 2, 5, 4),
        (N, L, 3, 5, 4),
        [(2, N, 3, 5, 4), (2, N, 3, 5, 4)],
    ),
    "ConvLSTM-3d-groupnorm": (
        lambda: rnn.ConvLSTM(2, 4, 3, dims=3, norm="group", norm_groups=2),
        None,
        (L, N, 2, 3, 4, 2),
        (L, N, 4, 3, 4, 2),
        [(1, N, 4, 3, 4, 2), (1, N, 4, 3, 4, 2)],
    ),
    "ConvGRU-2d": (lambda: rnn.ConvGRU(2, 3, 3), None, (L, N, 2, 5, 4), (L, N, 3, 5, 4),
                   [(1, N, 3, 5, 4)]),
    "ConvLSTMCell-2d": (lambda: rnn.ConvLSTMCell(2, 3, 3), None, (N, 2, 5, 4), None,
                        [(N, 3, 5, 4), (N, 3, 5, 4)]),
    "ConvGRUCell-1d": (lambda: rnn.ConvGRUCell(2, 3, 3, dims=1), None, (N, 2, 5), None,
                       [(N, 3, 5)]),
    # minimal RNNs: gates from the input alone (scan over time; fused=False steps the cells)
    "MinGRU-2x-bi": (lambda: rnn.MinGRU(I, H, 2, bidirectional=True), None, (L, N, I),
                     (L, N, 2 * H), [(4, N, H)]),
    "MinLSTM-bf-steps": (lambda: rnn.MinLSTM(I, H, batch_first=True, fused=False), None,
                         (N, L, I), (N, L, H), [(1, N, H)]),
    "MinGRUCell": (lambda: rnn.MinGRUCell(I, H), None, (N, I), None, [(N, H)]),
}  # fmt: skip
# no torch twin: G gates, C_h channels, kernel k^d -> G*C_h*(C_in + C_h)*k^d weights, 2*G*C_h
# biases; peepholes 3*C_h per layer; group norm G*C_h gains twice and 2*C_h on c. Minimal cells:
# G*H*(H_in + 1) per layer and direction.
OWN_COUNTS = {
    "ConvLSTM-1d-bi": 2 * (12 * 5 * 3 + 24),
    "ConvLSTM-2d-2x-peephole-bf": (12 * 5 * 9 + 24 + 9) + (12 * 6 * 9 + 24 + 9),
    "ConvLSTM-3d-groupnorm": 16 * 6 * 27 + 32 + 2 * 16 + 2 * 4,
    "ConvGRU-2d": 9 * 5 * 9 + 18,
    "ConvLSTMCell-2d": 12 * 5 * 9 + 24,
    "ConvGRUCell-1d": 9 * 5 * 3 + 18,
    "MinGRU-2x-bi": 2 * (2 * H * (I + 1)) + 2 * (2 * H * (2 * H + 1)),
    "MinLSTM-bf-steps": 3 * H * (I + 1),
    "MinGRUCell": 2 * H * (I + 1),
}
# a layer with layer_norm has LN gains (and an LN bias on c) beyond torch's parameters
EXTRA_LN = {
    "LSTM-layernorm": 2 * (2 * 4 * H + 2 * H),
    "GRU-layernorm-cells": 2 * 3 * H,
    "GRUCell-layernorm": 2 * 3 * H,
}

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _outputs(module, x):
    result = module(x)
    if isinstance(result, torch.Tensor):  # a single-state cell
        return None, [result]
    if isinstance(module, rnn.RecurrentCell):  # LSTMCell: (h, c)
        return None, list(result)
    output, state = result
    return output, list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(TABLE))
def test_module_contract(name, device, tmp_path):
    make, make_torch, in_shape, out_shape, state_shapes = TABLE[name]
    module = make().to(device)
    x = torch.randn(in_shape, device=device)
    x_before = x.clone()

    output, states = _outputs(module, x)
    assert torch.equal(x, x_before), "input mutated"
    if out_shape is not None:
        assert tuple(output.shape) == out_shape
    assert [tuple(s.shape) for s in states] == state_shapes

    count = sum(p.numel() for p in module.parameters())
    if make_torch is not None:
        twin = make_torch().to(device)
        assert count == sum(p.numel() for p in twin.parameters())
        twin.load_state_dict(module.state_dict())  # ours -> torch, no conversion
        module.load_state_dict(twin.state_dict())  # torch -> ours
    elif name in OWN_COUNTS:
        assert count == OWN_COUNTS[name]
    else:
        assert count == sum(p.numel() for p in make_torch_like(name).parameters()) + EXTRA_LN[name]

    # state dict round trip through a file read without executing code
    path = tmp_path / "weights.pt"
    torch.save(module.state_dict(), path)
    fresh = make().to(device)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    module.eval(), fresh.eval()
    for a, b in zip(_outputs(module, x)[1], _outputs(fresh, x)[1], strict=True):
        assert torch.equal(a, b)

    # one optimiser step lowers a loss
    module.train()
    torch.manual_seed(0)
    target = torch.randn_like(states[0])
    opt = torch.optim.SGD(module.parameters(), lr=0.1)

    def loss_fn():
        torch.manual_seed(1)  # same dropout masks before and after the step
        return ((_outputs(module, x)[1][0] - target) ** 2).mean()

    before = loss_fn()
    opt.zero_grad()
    before.backward()
    assert all(p.grad is not None for p in module.parameters())
    opt.step()
    with torch.no_grad():
        assert loss_fn() < before
    assert torch.equal(x, x_before), "input mutated"


def make_torch_like(name):
    """torch's layer with the same options minus layer_norm, to count the shared parameters."""
    return {
        "LSTM-layernorm": lambda: torch.nn.LSTM(I, H, 2),
        "GRU-layernorm-cells": lambda: torch.nn.GRU(I, H),
        "GRUCell-layernorm": lambda: torch.nn.GRUCell(I, H),
    }[name]()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_path_on_cuda_matches_cells():
    layer = rnn.LSTM(I, H, 2, bidirectional=True).cuda()
    cells = rnn.LSTM(I, H, 2, bidirectional=True, fused=False).cuda()
    cells.load_state_dict(layer.state_dict())
    x = torch.randn(L, N, I, device="cuda")
    torch.testing.assert_close(
        layer(x, lengths=[7, 3, 5])[0], cells(x, lengths=[7, 3, 5])[0], rtol=1e-4, atol=1e-5
    )
