"""Finite differences against every hand-written backward (cells and layers).

Central differences with eps = 1e-6 in float64 leave a truncation + rounding error of about
1e-9 relative; the hand-written gradients must agree to a relative error below 1e-6 for the
input, every parameter and the initial state. Sizes are tiny so this runs in about a second.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit.reference as ref
from rnnkit.reference.gradcheck import gradient_errors

MAX_REL_ERROR = 1e-6
H_IN, H, T, N = 3, 4, 4, 3
LAYERS = {
    "rnn_tanh": (ref.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (ref.RNN, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTM, {}),
    "lstm_proj": (ref.LSTM, {"proj_size": 2}),
    "gru": (ref.GRU, {}),
}
CELLS = {
    "rnn_tanh": (ref.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (ref.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (ref.LSTMCell, {}),
    "lstm_proj": (ref.LSTMCell, {"proj_size": 2}),
    "gru": (ref.GRUCell, {}),
}


def test_numerical_gradient_of_a_known_function():
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = a.copy()
    grad = ref.numerical_gradient(lambda: float(np.sum(np.sin(a) * a)), a)
    np.testing.assert_allclose(grad, np.cos(before) * before + np.sin(before), atol=1e-8)
    np.testing.assert_array_equal(a, before)  # restored


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_backward_matches_finite_differences(kind):
    cls, extra = CELLS[kind]
    cell = cls(H_IN, H, seed=0, **extra)
    rng = np.random.default_rng(1)
    state = tuple(rng.standard_normal((N, s)) for s in cell.state_sizes)
    errors = gradient_errors(
        cell, rng.standard_normal((N, H_IN)), state if len(state) > 1 else state[0]
    )
    assert {"x", "h0", *cell.params} <= set(errors)
    assert max(errors.values()) < MAX_REL_ERROR, errors


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_backward_matches_finite_differences(kind, bidirectional, with_lengths):
    cls, extra = LAYERS[kind]
    layer = cls(H_IN, H, num_layers=2, bidirectional=bidirectional, seed=0, **extra)
    rng = np.random.default_rng(2)
    rows = 2 * layer.num_directions
    h0 = tuple(rng.standard_normal((rows, N, s)) for s in layer.state_sizes)
    lengths = [4, 1, 3] if with_lengths else None
    errors = gradient_errors(
        layer, rng.standard_normal((T, N, H_IN)), h0 if len(h0) > 1 else h0[0], lengths=lengths
    )
    assert {"x", "h0", *layer.params} <= set(errors)
    assert max(errors.values()) < MAX_REL_ERROR, errors


def test_check_gradients_batch_first_without_h0():
    layer = ref.GRU(H_IN, H, batch_first=True, seed=0)
    x = np.random.default_rng(3).standard_normal((N, T, H_IN))
    assert ref.check_gradients(layer, x, lengths=[2, 4, 1]) < MAX_REL_ERROR


def test_check_gradients_detects_a_wrong_backward():
    """The checker is not vacuous: a backward that drops a term fails it."""

    class BrokenGRUCell(ref.GRUCell):
        def step_backward(self, p, d_state, cache):
            dx, d_state, grads = super().step_backward(p, d_state, cache)
            return dx, (d_state[0] * 0.5,), grads

    cell = BrokenGRUCell(H_IN, H, seed=0)
    rng = np.random.default_rng(4)
    errors = gradient_errors(cell, rng.standard_normal((N, H_IN)), rng.standard_normal((N, H)))
    assert errors["h0"] > 0.1
