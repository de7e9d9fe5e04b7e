"""Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (tol 1e-12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnkit.reference as ref

TOL = 1e-12


def random_grads(scale: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": scale * rng.standard_normal((4, 3)), "b": scale * rng.standard_normal(5)}


def torch_clipped(grads: dict[str, np.ndarray], fn, *args, **kwargs):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for p, g in zip(params, grads.values(), strict=True):
        p.grad = torch.tensor(g)
    result = fn(params, *args, **kwargs)
    return [p.grad.numpy() for p in params], result


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["below", "above"])
def test_clip_grad_norm_matches_torch(scale, norm_type):
    grads = random_grads(scale)
    max_norm = 1.0
    clipped, total = ref.clip_grad_norm(grads, max_norm, norm_type=norm_type)
    expected, total_t = torch_clipped(grads, torch.nn.utils.clip_grad_norm_, max_norm, norm_type)
    assert total == pytest.approx(float(total_t), rel=TOL)
    for a, b in zip(clipped.values(), expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)
    new_norm = ref.clip_grad_norm(clipped, 1e9, norm_type=norm_type)[1]
    assert new_norm <= max_norm + 1e-9
    if scale < 1:  # already inside the ball: unchanged up to torch's 1e-6 guard
        for a, b in zip(clipped.values(), grads.values(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_clip_grad_norm_is_not_in_place_and_keeps_the_container():
    grads = random_grads(10.0)
    before = {k: v.copy() for k, v in grads.items()}
    clipped, _ = ref.clip_grad_norm(grads, 1.0)
    assert list(clipped) == list(grads)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    as_list, _ = ref.clip_grad_norm(list(grads.values()), 1.0)
    assert isinstance(as_list, list) and len(as_list) == 2


def test_clip_grad_value_matches_torch():
    grads = random_grads(3.0)
    clipped = ref.clip_grad_value(grads, 0.5)
    expected, _ = torch_clipped(grads, torch.nn.utils.clip_grad_value_, 0.5)
    for a, b in zip(clipped.values(), expected, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.abs(a).max() <= 0.5


def test_clipping_real_bptt_gradients():
    """On an LSTM's gradients (a dict keyed by torch names), norm clipping bounds the norm."""
    layer = ref.LSTM(3, 4, num_layers=2, seed=0)
    out, _ = layer.forward(np.random.default_rng(0).standard_normal((5, 2, 3)))
    _, grads = layer.backward(100.0 * np.ones_like(out))
    clipped, total = ref.clip_grad_norm(grads, 1.0)
    assert total > 1.0
    assert ref.clip_grad_norm(clipped, 1e9)[1] == pytest.approx(1.0, rel=1e-5)
    assert set(clipped) == set(layer.params)
