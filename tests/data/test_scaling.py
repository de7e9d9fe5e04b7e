"""rnnkit.data.scaling: scalers fitted on training rows, saved as JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnkit.data.scaling import StandardScaler, make_scaler, scaler_from_state


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_uses_train_rows_only(kind):
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(200, 3))
    test = rng.normal(50.0, 9.0, size=(100, 3))  # a very different test period
    scaler = make_scaler(kind).fit(train)
    z_train = scaler.transform(train)
    if kind == "standard":
        np.testing.assert_allclose(z_train.mean(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(z_train.std(0), 1.0, atol=1e-12)
    else:
        np.testing.assert_allclose(z_train.min(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(z_train.max(0), 1.0, atol=1e-12)
    assert np.all(scaler.transform(test).mean(0) > 2)  # test statistics did not leak in
    back = scaler_from_state(scaler.state_dict())
    np.testing.assert_allclose(back.inverse_transform(back.transform(test)), test)
    t = torch.as_tensor(test[:, 1:2], dtype=torch.float32)
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(t, [1]), [1]).numpy(), t.numpy(), rtol=1e-6
    )


def test_constant_channel_does_not_divide_by_zero():
    scaler = StandardScaler().fit(np.ones((10, 1)))
    assert np.isfinite(scaler.transform(np.ones((3, 1)))).all()


def test_float32_features_are_scaled_in_float32():
    rng = np.random.default_rng(1)
    x = rng.normal(5, 3, size=(50, 4)).astype(np.float32)
    scaler = scaler_from_state(json.loads(json.dumps(make_scaler("standard").fit(x).state_dict())))
    z = scaler.transform(x)
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, (x - x.mean(0)) / x.std(0))  # the same float32 arithmetic


def test_global_scaler_uses_one_mean_and_std():
    x = np.array([[0.0, 10.0], [2.0, 12.0]])
    z = make_scaler("global").fit(x).transform(x)
    np.testing.assert_allclose(z.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, 1] - z[:, 0], 10.0 / x.std())
