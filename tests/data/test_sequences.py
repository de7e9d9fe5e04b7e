"""Padding, masks, batch access and the digits loader."""

import numpy as np
import pytest
import torch

from rnnkit.data import TensorBatches, length_mask, pad_sequences
from rnnkit.data.datasets.digits import load_digits


def test_pad_sequences_and_mask():
    x, lengths = pad_sequences([np.ones((2, 3)), np.ones((4, 3)), np.ones(1)[:, None].repeat(3, 1)])
    assert x.shape == (3, 4, 3) and lengths.tolist() == [2, 4, 1]
    mask = length_mask(torch.from_numpy(lengths))
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert x.sum() == 3 * (2 + 4 + 1)
    with pytest.raises(ValueError, match="same number of features"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


def test_tensor_batches_trim_to_longest_in_batch():
    x = torch.arange(24.0).reshape(3, 4, 2)
    batches = TensorBatches(
        {"x": x, "lengths": torch.tensor([2, 4, 1]), "y": torch.tensor([0, 1, 2])}
    )
    batch = batches[torch.tensor([2, 0])]
    assert batch["x"].shape == (2, 2, 2)
    assert batch["y"].tolist() == [2, 0]
    torch.testing.assert_close(batch["x"][1], x[0, :2])
    with pytest.raises(ValueError, match="same number of rows"):
        TensorBatches({"x": x, "y": torch.zeros(2)})


def test_digits_are_8_steps_of_8_features():
    digits = load_digits()
    assert digits.x.shape == (1797, 8, 8)
    assert sorted(set(digits.y.tolist())) == list(range(10))
    assert digits.x.max() == 16
