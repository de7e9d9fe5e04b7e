"""Moving MNIST and the motion set: the generators against brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import DataError
from rnnkit.data.datasets.moving_mnist import (
    DIRECTIONS,
    MovingMNISTBatches,
    bouncing_paths,
    load_test_set,
    motion_clips,
    moving_mnist,
    render,
)


def paper_paths(n, frames, k, rng, free, step=0.1):
    """Srivastava et al.'s script, one digit at a time with scalar arithmetic (same draws)."""
    pos = rng.random((n, k, 2))
    theta = rng.random((n, k)) * 2 * np.pi
    out = np.empty((n, k, frames, 2), dtype=np.int64)
    for i in range(n):
        for j in range(k):
            y, x = pos[i, j]
            v_y, v_x = np.sin(theta[i, j]), np.cos(theta[i, j])
            for t in range(frames):
                y += v_y * step
                x += v_x * step
                if x <= 0:
                    x, v_x = 0.0, -v_x
                if x >= 1:
                    x, v_x = 1.0, -v_x
                if y <= 0:
                    y, v_y = 0.0, -v_y
                if y >= 1:
                    y, v_y = 1.0, -v_y
                out[i, j, t] = int(y * free), int(x * free)
    return out


def test_bouncing_paths_are_the_papers_walk():
    ours = bouncing_paths(50, 20, 2, np.random.default_rng(7), 36)
    theirs = paper_paths(50, 20, 2, np.random.default_rng(7), 36)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.min() >= 0 and ours.max() <= 36


def test_render_overlays_digits_with_max():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, size=(3, 2, 5, 5), dtype=np.uint8)
    corners = rng.integers(0, 8, size=(3, 2, 4, 2))
    out = render(digits, corners, canvas=12)
    want = np.zeros((3, 4, 12, 12), dtype=np.uint8)
    for n in range(3):
        for t in range(4):
            for j in range(2):
                y, x = corners[n, j, t]
                for a in range(5):
                    for b in range(5):
                        want[n, t, y + a, x + b] = max(want[n, t, y + a, x + b], digits[n, j, a, b])
    np.testing.assert_array_equal(out, want)


def _digits(n=40, size=28):
    rng = np.random.default_rng(1)
    return (rng.random((n, size, size)) > 0.7).astype(np.uint8) * 255


def test_moving_mnist_shapes_and_range():
    x = moving_mnist(_digits(), 4, np.random.default_rng(0))
    assert x.shape == (4, 20, 64, 64) and x.dtype == np.uint8
    assert (x.reshape(4, 20, -1).max(-1) == 255).all()  # every frame shows a digit


def test_training_items_depend_on_seed_epoch_and_index_only():
    batches = MovingMNISTBatches(_digits(), size=10, seed=3)
    a = batches[[4, 7]]["frames"]
    b = batches[[7, 1, 4]]["frames"]
    assert a.shape == (2, 20, 1, 64, 64) and float(a.max()) == 1.0
    np.testing.assert_array_equal(a[0], b[2])
    np.testing.assert_array_equal(a[1], b[0])
    batches.set_epoch(1)
    assert not np.array_equal(batches[[4]]["frames"][0], a[0])


def test_motion_clips_move_one_direction_and_wrap():
    """A one-digit clip's frame t+1 is frame t rolled by its speed along the labelled axis."""
    clips, labels = motion_clips(_digits(), 60, np.random.default_rng(2), frames=6)
    axes = {"right": (2, 1), "left": (2, -1), "down": (1, 1), "up": (1, -1)}  # (axis, sign)
    checked = 0
    for clip, label in zip(clips, labels):
        axis, sign = axes[DIRECTIONS[label]]
        speeds = [s for s in range(2, 6)
                  if all(np.array_equal(np.roll(clip[t], sign * s, axis=axis - 1), clip[t + 1])
                         for t in range(5))]  # fmt: skip
        checked += bool(speeds)
    assert checked >= 25  # the one-digit clips (two digits may have two speeds)
    assert set(labels.tolist()) == {0, 1, 2, 3}


def test_test_set_is_written_once_and_read_back(tmp_path):
    first = load_test_set(_digits(), n=6, seed=5, folder=tmp_path)
    path = tmp_path / "test-n6-seed5.npz"
    assert path.is_file()
    np.testing.assert_array_equal(load_test_set(_digits(5), n=6, seed=5, folder=tmp_path), first)
    np.savez(path, frames=np.zeros((2, 20, 64, 64), np.uint8))
    with pytest.raises(DataError, match="test-n6-seed5.npz: holds"):
        load_test_set(_digits(), n=6, seed=5, folder=tmp_path)


def test_digits_must_be_square_and_fit():
    with pytest.raises(DataError, match=r"digits must be square images \(M, d, d\)"):
        moving_mnist(np.zeros((3, 28, 20), np.uint8), 1, np.random.default_rng(0))
    with pytest.raises(DataError, match="no digit images"):
        moving_mnist(np.zeros((0, 28, 28), np.uint8), 1, np.random.default_rng(0))


def test_real_mnist_sequences(shared_datasets):
    from rnnkit.data.datasets.mnist import load_idx_dir

    images, _ = load_idx_dir(shared_datasets / "mnist", "test")
    x = moving_mnist(images, 200, np.random.default_rng(0)).astype(np.float64) / 255
    zeros = (x[:, 10:] ** 2).sum((2, 3)).mean()  # predicting empty frames
    copy = ((x[:, 10:] - x[:, 9:10]) ** 2).sum((2, 3)).mean()
    assert 150 < zeros < 200 and copy > zeros  # two digits; copying the last frame is worse
