"""Optimisers, penalties, gradient clipping and learning-rate schedules."""

import math

import pytest
import torch
from torch import nn

from rnnkit.train import LRSchedule, OptimConfig, build_optimizer, clip_gradients, penalty
from rnnkit.train.optim import penalized_weights


def _model_with_gradients(scale: float = 10.0) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.LSTM(16, 8, batch_first=True))
    x = torch.randn(4, 5, 6) * scale
    out, _ = model(x)
    (out.pow(2).sum() * scale).backward()
    return model


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimiser_lowers_a_loss(name):
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    x, y = torch.randn(64, 5), torch.randn(64, 1)
    opt = build_optimizer(model.parameters(), OptimConfig(name=name, lr=0.05))
    before = nn.functional.mse_loss(model(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert nn.functional.mse_loss(model(x), y).item() < before


def test_penalty_matches_its_definition():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    weights = penalized_weights(model)
    assert len(weights) == 2  # weight matrices only, no biases
    expected = sum(0.1 * w.abs().sum() + 0.01 * w.pow(2).sum() for w in weights)
    torch.testing.assert_close(penalty(weights, 0.1, 0.01), expected)
    assert penalty(weights, 0.0, 0.0) is None


def test_clip_by_norm_bounds_the_global_norm():
    model = _model_with_gradients()
    params = list(model.parameters())
    raw = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
    assert raw > 1.0
    norm = clip_gradients(params, clip_norm=1.0, clip_value=0.0)
    torch.testing.assert_close(norm, raw)  # reports the norm before clipping
    after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
    assert after <= 1.0 + 1e-5


def test_clip_by_value_bounds_every_element():
    model = _model_with_gradients()
    params = list(model.parameters())
    assert max(p.grad.abs().max() for p in params) > 0.01
    clip_gradients(params, clip_norm=0.0, clip_value=0.01)
    assert max(p.grad.abs().max() for p in params) <= 0.01


def _rates(config: OptimConfig, steps_per_epoch: int = 10, epochs: int = 10) -> list[float]:
    schedule = LRSchedule(config, steps_per_epoch, epochs)
    return [schedule.lr(s) for s in range(steps_per_epoch * epochs)]


def test_warmup_then_cosine_to_min_lr():
    rates = _rates(OptimConfig(lr=1.0, schedule="cosine", warmup_epochs=1, min_lr=0.1))
    assert rates[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[10] == pytest.approx(1.0) and rates[-1] == pytest.approx(0.1, abs=1e-3)


def test_step_and_exponential_decay_per_epoch():
    step = _rates(OptimConfig(lr=1.0, schedule="step", step_size=3, gamma=0.5))
    assert step[29] == 1.0 and step[30] == 0.5 and step[60] == 0.25
    expo = _rates(OptimConfig(lr=1.0, schedule="exponential", gamma=0.9))
    assert expo[55] == pytest.approx(0.9**5)


def test_plateau_decays_after_patience_and_round_trips():
    schedule = LRSchedule(OptimConfig(lr=1.0, schedule="plateau", patience=2, gamma=0.5), 10, 10)
    for value in [1.0, 0.5, 0.6, 0.6]:
        schedule.observe(value)
    assert schedule.lr(0) == 1.0  # two bad epochs: still within patience
    schedule.observe(0.7)
    assert schedule.lr(0) == 0.5
    restored = LRSchedule(schedule.config, 10, 10)
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr(0) == 0.5 and restored.best == 0.5
    assert not math.isnan(restored.lr(99))
