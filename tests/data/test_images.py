"""Images as sequences (rows, pixels, permuted) and image files read for prediction."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rnnkit.data.images import image_sequences, permutation, read_image, read_images


def test_rows_pixels_and_permuted_hold_the_same_pixels():
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5)).astype(np.uint8)
    rows = image_sequences(images, "rows")
    pixels = image_sequences(images, "pixels")
    permuted = image_sequences(images, "permuted", seed=7)
    assert rows.shape == (3, 4, 5) and pixels.shape == (3, 20, 1) and permuted.shape == (3, 20, 1)
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(pixels[1, 5 * 2 + 3, 0], images[1, 2, 3])  # raster order
    order = permutation(20, 7)
    np.testing.assert_array_equal(permuted[:, :, 0], pixels[:, order, 0])
    assert sorted(order.tolist()) == list(range(20)) and order.tolist() != list(range(20))
    np.testing.assert_array_equal(image_sequences(images, "permuted", seed=7), permuted)
    assert not np.array_equal(image_sequences(images, "permuted", seed=8), permuted)
    with pytest.raises(ValueError, match="mode must be one of"):
        image_sequences(images, "columns")


def test_png_npy_and_folders_read_on_the_0_255_scale(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (6, 5)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", image.astype(np.float32) / 255.0)  # [0, 1] floats
    np.save(tmp_path / "c.npy", np.stack([image, image // 2]))  # a stack of two
    (tmp_path / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", (6, 5)), image)
    names, stack = read_images(tmp_path, (6, 5))
    assert names == ["a.png", "b.npy", "c.npy[0]", "c.npy[1]"]
    assert stack.shape == (4, 6, 5) and stack.dtype == np.float32
    np.testing.assert_allclose(stack[1], image, atol=1e-4)
    np.testing.assert_array_equal(stack[3], image // 2)
    # a larger RGB PNG is converted to grey and resized
    Image.fromarray(np.zeros((12, 10, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    assert read_image(tmp_path / "big.png", (6, 5)).shape == (6, 5)


def test_bad_image_files_are_refused_naming_them(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"wrong\.npy: expected an image of shape \(6, 5\)"):
        read_images(tmp_path / "wrong.npy", (6, 5))
    (tmp_path / "fake.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"fake\.png: not a readable PNG"):
        read_image(tmp_path / "fake.png", (6, 5))
    with pytest.raises(FileNotFoundError, match="nope"):
        read_images(tmp_path / "nope", (6, 5))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .png or .npy images"):
        read_images(tmp_path / "empty", (6, 5))
