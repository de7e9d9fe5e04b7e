"""Bad arguments raise ValueError naming the argument, what was expected and what was given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit.reference as ref

T, N, H_IN, H = 5, 3, 4, 6


@pytest.fixture
def x() -> np.ndarray:
    return np.zeros((T, N, H_IN))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ref.RNN(0, H), r"input_size must be an integer >= 1, got 0"),
        (lambda: ref.GRU(H_IN, -2), r"hidden_size must be an integer >= 1, got -2"),
        (lambda: ref.LSTM(H_IN, H, num_layers=0), r"num_layers must be an integer >= 1, got 0"),
        (lambda: ref.RNN(H_IN, H, nonlinearity="sigmoid"), r"nonlinearity must be 'tanh' or"),
        (lambda: ref.LSTM(H_IN, H, proj_size=H), r"proj_size must be smaller than hidden_size"),
        (lambda: ref.LSTM(H_IN, H, proj_size=-1), r"proj_size must be an integer >= 0, got -1"),
        (lambda: ref.RNNCell(H_IN, H, nonlinearity="gelu"), r"nonlinearity must be"),
        (lambda: ref.LSTMCell(H_IN, 2.5), r"hidden_size must be an integer >= 1, got 2.5"),
    ],
)
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "shape, match",
    [
        ((N, H_IN + 2), r"x must have input_size=4 features .* got shape \(3, 6\)"),  # unbatched
        ((H_IN,), r"x must be 3-D \(T, N, H_in\).* got shape \(4,\)"),
        ((1, T, N, H_IN), r"x must be 3-D .* got shape \(1, 5, 3, 4\)"),
        ((T, N, H_IN + 1), r"x must have input_size=4 features .* got shape \(5, 3, 5\)"),
        ((0, N, H_IN), r"x must have at least one time step, got shape \(0, 3, 4\)"),
    ],
)
def test_bad_x(shape, match):
    layer = ref.GRU(H_IN, H)
    with pytest.raises(ValueError, match=match):
        layer.forward(np.zeros(shape))


@pytest.mark.parametrize(
    "lengths, match",
    [
        ([5, 5], r"lengths must have one entry per sequence, shape \(3,\), got shape \(2,\)"),
        ([[5, 5, 5]], r"lengths must have one entry per sequence"),
        ([5, 0, 2], r"lengths must lie in 1\.\.T = 1\.\.5, got \[5, 0, 2\]"),
        ([6, 1, 2], r"lengths must lie in 1\.\.T = 1\.\.5, got \[6, 1, 2\]"),
        ([2.5, 1, 2], r"lengths must be integers, got \[2\.5, 1\.0, 2\.0\]"),
        (torch.tensor([9, 1, 1]), r"lengths must lie in 1\.\.T"),
    ],
)
def test_bad_lengths(x, lengths, match):
    with pytest.raises(ValueError, match=match):
        ref.LSTM(H_IN, H).forward(x, lengths=lengths)


def test_lengths_with_unbatched_x():
    with pytest.raises(ValueError, match=r"lengths must be None for unbatched"):
        ref.RNN(H_IN, H).forward(np.zeros((T, H_IN)), lengths=[T])


def test_bad_h0(x):
    layer = ref.GRU(H_IN, H, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"h0 must have shape \(4, 3, 6\) .* got \(2, 3, 6\)"):
        layer.forward(x, np.zeros((2, N, H)))
    lstm = ref.LSTM(H_IN, H, proj_size=2)
    with pytest.raises(ValueError, match=r"h0 must be a tuple \(h, c\) or None for LSTM"):
        lstm.forward(x, np.zeros((1, N, 2)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 3, 2\) .* got \(1, 3, 6\)"):
        lstm.forward(x, (np.zeros((1, N, H)), np.zeros((1, N, H))))
    with pytest.raises(ValueError, match=r"c0 must have shape \(1, 3, 6\) .* got \(1, 3, 2\)"):
        lstm.forward(x, (np.zeros((1, N, 2)), np.zeros((1, N, 2))))


def test_bad_backward_arguments(x):
    layer = ref.LSTM(H_IN, H, batch_first=True)
    with pytest.raises(RuntimeError, match=r"backward\(\) needs a forward\(\) first"):
        layer.backward(np.zeros((N, T, H)))
    out, _ = layer.forward(x.transpose(1, 0, 2))
    with pytest.raises(ValueError, match=r"d_output must have the output's shape \(3, 5, 6\)"):
        layer.backward(np.zeros((T, N, H)))
    with pytest.raises(ValueError, match=r"d_state must be a tuple \(h, c\) or None"):
        layer.backward(np.zeros_like(out), np.zeros((1, N, H)))
    with pytest.raises(ValueError, match=r"d_state \(c\) must have shape \(1, 3, 6\)"):
        layer.backward(np.zeros_like(out), (None, np.zeros((1, N, 1))))


def test_bad_cell_arguments():
    cell = ref.LSTMCell(H_IN, H)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\) or \(4,\) .* got \(3, 5\)"):
        cell.forward(np.zeros((N, H_IN + 1)))
    with pytest.raises(ValueError, match=r"state must be a tuple \(h, c\) or None"):
        cell.forward(np.zeros((N, H_IN)), np.zeros((N, H)))
    with pytest.raises(ValueError, match=r"state \(c\) must have shape \(3, 6\), got \(3, 2\)"):
        cell.forward(np.zeros((N, H_IN)), (np.zeros((N, H)), np.zeros((N, 2))))
    with pytest.raises(RuntimeError, match=r"backward\(\) needs a forward\(\) first"):
        ref.GRUCell(H_IN, H).backward(np.zeros((N, H)))


def test_bad_state_dicts():
    layer = ref.LSTM(H_IN, H, num_layers=2)
    good = torch.nn.LSTM(H_IN, H, num_layers=2).state_dict()
    missing = {k: v for k, v in good.items() if k != "bias_hh_l1"}
    with pytest.raises(ValueError, match=r"state_dict is missing key\(s\) \['bias_hh_l1'\]"):
        layer.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['weight_hr_l0'\]"):
        layer.load_state_dict({**good, "weight_hr_l0": torch.zeros(2, H)})
    wrong = {**good, "weight_hh_l1": torch.zeros(4 * H, H + 1)}
    with pytest.raises(
        ValueError,
        match=r"state_dict\['weight_hh_l1'\] must have shape \(24, 6\), "
        r"got \(24, 7\)",
    ):
        layer.load_state_dict(wrong)
    before = layer.state_dict()
    with pytest.raises(ValueError):
        layer.load_state_dict({**good, "weight_ih_l0": torch.zeros(1)})
    for name, value in layer.params.items():  # a failed load changes nothing
        np.testing.assert_array_equal(value, before[name])


def test_bad_clip_arguments():
    with pytest.raises(ValueError, match=r"max_norm must be a positive finite number, got 0"):
        ref.clip_grad_norm({"a": np.ones(2)}, 0)
    with pytest.raises(ValueError, match=r"norm_type must be a positive number or inf"):
        ref.clip_grad_norm({"a": np.ones(2)}, 1.0, norm_type=-1)
    with pytest.raises(ValueError, match=r"clip_value must be a positive finite number, got -1"):
        ref.clip_grad_value([np.ones(2)], -1)
