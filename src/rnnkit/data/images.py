"""Images as sequences (rows, pixels, permuted pixels), and image files to predict on.

An image of H x W pixels is read as

* ``rows``: H steps of W features (the classic row-by-row reading of MNIST);
* ``pixels``: H*W steps of one feature, in raster order ("sequential MNIST");
* ``permuted``: the same pixels under one fixed permutation drawn from a seed ("pMNIST"),
  which destroys locality so that the model must carry information over long spans.

Pixel values keep the scale of the training data (0..255 for MNIST); normalisation is the
task's job. Shapes: N images, H rows, W columns.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataError

MODES = ("rows", "pixels", "permuted")
IMAGE_SUFFIXES = (".png", ".npy")


def permutation(size: int, seed: int) -> np.ndarray:
    """The pixel order of ``permuted`` mode: ``range(size)`` permuted by a generator of ``seed``."""
    return np.random.default_rng(seed).permutation(size)


def image_sequences(images: np.ndarray, mode: str, seed: int = 0) -> np.ndarray:
    """(N, H, W) images -> (N, T, F) float32 sequences: rows (H, W) or pixels (H*W, 1)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        raise DataError(f"images must be (N, H, W), got shape {images.shape}")
    x = images.astype(np.float32, copy=False)
    if mode == "rows":
        return x
    n, h, w = x.shape
    x = x.reshape(n, h * w, 1)
    return x[:, permutation(h * w, seed)] if mode == "permuted" else x


def read_image(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """One image file (PNG, or NPY of shape ``shape``) -> float32 (H, W) on the 0..255 scale.

    PNGs are converted to grey levels and resized to ``shape`` if needed. An NPY array of floats
    whose values all lie in [0, 1] is taken to be on that scale and multiplied by 255.
    """
    path = Path(path)
    if path.suffix.lower() == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                grey = image.convert("L")
                if grey.size != (shape[1], shape[0]):
                    grey = grey.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
                return np.asarray(grey, dtype=np.float32)
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{path}: not a readable PNG image ({error})") from error
    if path.suffix.lower() == ".npy":
        return _scaled(np.load(path, allow_pickle=False), path, shape)[0]
    raise DataError(f"{path}: expected a .png or .npy image, got {path.suffix or 'no suffix'}")


def read_images(path: str | os.PathLike, shape: tuple[int, int]) -> tuple[list[str], np.ndarray]:
    """Images from a PNG, an NPY (one (H, W) image or a stack (N, H, W)), or a folder of them.

    Returns the name of each image (file name, with ``[i]`` for stacks) and (N, H, W) float32.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    if not files:
        raise DataError(f"{path}: the folder holds no .png or .npy images")
    names, arrays = [], []
    for file in files:
        if file.suffix.lower() == ".npy":
            stack = _scaled(np.load(file, allow_pickle=False), file, shape)
            names += (
                [file.name] if len(stack) == 1 else [f"{file.name}[{i}]" for i in range(len(stack))]
            )
            arrays.append(stack)
        else:
            names.append(file.name)
            arrays.append(read_image(file, shape)[None])
    return names, np.concatenate(arrays)


def _scaled(array: np.ndarray, path: Path, shape: tuple[int, int]) -> np.ndarray:
    """An NPY image (H, W) or stack (N, H, W) as float32 (N, H, W) on the 0..255 scale."""
    stack = array[None] if array.ndim == 2 else array
    if stack.ndim != 3 or stack.shape[1:] != tuple(shape):
        raise DataError(
            f"{path}: expected an image of shape {tuple(shape)} or a stack (N, {shape[0]}, "
            f"{shape[1]}), got {array.shape}"
        )
    stack = stack.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating) and stack.size and stack.max() <= 1.0:
        stack = stack * 255.0  # [0, 1] images
    return stack
