"""Clip files: what reads, and one clear error naming file and array for what does not."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.data import DataError
from rnnkit.data.clips import read_clips


def test_uint8_and_float_clips_with_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, size=(3, 4, 6, 5), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", x_train=x, y_train=np.array(["a", "b", "a"]),
             x_test=x[:2].astype(np.float32) / 255)  # fmt: skip
    splits = read_clips(tmp_path / "c.npz")
    train, test = splits["train"], splits["test"]
    assert train.x.shape == (3, 4, 1, 6, 5) and train.frame_shape == (1, 6, 5)
    np.testing.assert_allclose(train.x[:, :, 0], x / 255.0, rtol=1e-6)
    assert train.lengths.tolist() == [4, 4, 4] and train.y.tolist() == ["a", "b", "a"]
    assert test.y is None and test.x.dtype == np.float32


def test_clips_of_their_own_lengths_are_padded(tmp_path):
    clips = np.empty(2, dtype=object)
    clips[0], clips[1] = np.ones((3, 2, 4, 4), np.float32), np.ones((5, 2, 4, 4), np.float32)
    np.savez(tmp_path / "c.npz", x=clips)
    c = read_clips(tmp_path / "c.npz")[""]
    assert c.x.shape == (2, 5, 2, 4, 4) and c.lengths.tolist() == [3, 5]
    assert c.x[0, 3:].sum() == 0


def _ragged(*shapes):
    clips = np.empty(len(shapes), dtype=object)
    for i, s in enumerate(shapes):
        clips[i] = np.zeros(s, np.float32)
    return clips


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 3, 4), np.uint8), r"clips must be \(N, L, H, W\) or \(N, L, C, H, W\)"),
        (np.zeros((0, 3, 4, 4), np.uint8), r"holds no clips \(N = 0\)"),
        (np.zeros((2, 0, 4, 4), np.uint8), r"clips have no frames \(L = 0\)"),
        (np.full((2, 3, 4, 4), np.nan, np.float32), r"NaN or infinite value at index \(0, 0, 0"),
        (np.full((2, 3, 4, 4), 3.0), r"float frames must lie in \[0, 1\]"),
        (np.zeros((2, 3, 4, 4), bool), "frames must be uint8 or floats"),
        (_ragged((3, 4, 4), (2, 4, 5)), r"clip 1 has frames of \(C, H, W\) = \(1, 4, 5\), clip 0"),
        (_ragged((3, 4, 4), (0, 4, 4)), "clip 1 has no frames"),
        (_ragged((3, 4, 4), (2, 4)), r"clip 1 must be \(L, H, W\)"),
    ],
)
def test_bad_clips_get_one_line_naming_file_and_array(tmp_path, x, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x=x)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: x: {message}"):
        read_clips(path)


def test_files_without_clips_or_unreadable(tmp_path):
    np.savez(tmp_path / "none.npz", y=np.zeros(3))
    with pytest.raises(DataError, match="holds no clips"):
        read_clips(tmp_path / "none.npz")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=r"junk.npy: not a readable .npy array"):
        read_clips(tmp_path / "junk.npy")
    (tmp_path / "c.csv").write_text("x")
    with pytest.raises(DataError, match="clips are read from .npz or .npy"):
        read_clips(tmp_path / "c.csv")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_clips(tmp_path / "missing.npz")
