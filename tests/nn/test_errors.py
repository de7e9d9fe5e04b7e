"""Bad arguments raise ValueError naming the argument and what was given."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: rnn.LSTM(3, 0), r"hidden_size must be a positive integer, got 0"),
        (lambda: rnn.GRU(0, 4), r"input_size must be a positive integer, got 0"),
        (lambda: rnn.RNN(3, 4, num_layers=0), r"num_layers must be a positive integer, got 0"),
        (lambda: rnn.RNN(3, 4, nonlinearity="sigmoid"), r"nonlinearity must be .*'sigmoid'"),
        (lambda: rnn.LSTM(3, 4, dropout=1.5), r"dropout must be a probability .* got 1.5"),
        (lambda: rnn.GRU(3, 4, recurrent_dropout=-0.1), r"recurrent_dropout must be .* -0.1"),
        (lambda: rnn.LSTM(3, 4, proj_size=4), r"proj_size must be smaller than hidden_size"),
        (lambda: rnn.LSTM(3, 4, fused=True, layer_norm=True), r"fused=True .* layer_norm"),
        (
            lambda: rnn.GRU(3, 4, fused=True, recurrent_dropout=0.2),
            r"fused=True .* recurrent_dropout",
        ),
        (lambda: rnn.LSTM(3, 4, fused="yes"), r"fused must be 'auto', True or False, got 'yes'"),
    ],
)
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    "x_shape,kwargs,match",
    [
        ((4, 2, 5), {}, r"input has 5 features, expected input_size=3"),
        ((4,), {}, r"input must be 3-D .* got shape \(4,\)"),
        ((1, 4, 2, 3), {}, r"input must be 3-D"),
        (
            (4, 2, 3),
            {"lengths": [4, 5]},
            r"lengths must not exceed the sequence length 4, got max 5",
        ),
        ((4, 2, 3), {"lengths": [4, 0]}, r"lengths must be >= 1"),
        ((4, 2, 3), {"lengths": [4, 2, 1]}, r"lengths must be 1-D with one entry per sequence"),
        ((4, 2, 3), {"lengths": [1.5, 2.0]}, r"lengths must hold integers"),
        ((0, 2, 3), {}, r"sequence length 0"),
        ((4, 2, 3), {"hx": torch.zeros(1, 3, 4)}, r"hx h_0 must have shape \(1, 2, 4\)"),
    ],
)
def test_bad_forward_arguments(x_shape, kwargs, match, fused):
    layer = rnn.GRU(3, 4, fused=fused)
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(x_shape), **kwargs)


def test_lstm_state_must_be_a_pair():
    with pytest.raises(ValueError, match=r"hx must hold 2 tensor\(s\), got 1"):
        rnn.LSTM(3, 4)(torch.randn(2, 1, 3), torch.zeros(1, 1, 4))


def test_cell_input_checks():
    with pytest.raises(ValueError, match=r"input has 2 features, expected input_size=3"):
        rnn.LSTMCell(3, 4)(torch.randn(5, 2))
    with pytest.raises(ValueError, match=r"input must be 2-D"):
        rnn.GRUCell(3, 4)(torch.randn(1, 5, 3))
