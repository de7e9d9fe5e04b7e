"""Moving MNIST (Srivastava, Mansimov & Salakhutdinov, 2015), generated from MNIST digits.

**Prediction set** (the paper's generator, as in its published script and OpenSTL's
``MovingMNIST``): 2 digits of 28 x 28 on a 64 x 64 canvas, 20 frames. Each digit starts at a
uniform position in [0, 1]^2 of the free range (64 - 28 = 36 pixels), moves in a uniform random
direction by 0.1 of that range per frame (3.6 pixels), and bounces off the edges (a velocity
component flips when the position leaves [0, 1]; the position is clamped). The position is
updated before each frame is drawn, and digits are overlaid with ``max``. Frames are uint8.

* Training sequences are drawn on the fly from MNIST's *training* digits: item ``i`` of epoch
  ``e`` comes from ``np.random.default_rng([seed, e, i])`` (:class:`MovingMNISTBatches`), so
  every epoch sees new sequences and a resumed run sees what an uninterrupted one saw.
* The test set is drawn once from MNIST's *test* digits with a fixed seed and written to the data
  directory (``moving-mnist/test-n{N}-seed{S}.npz``), then read from there
  (:func:`load_test_set`). It is *not* the standard ``mnist_test_seq.npy`` of the paper (10,000
  sequences from the authors' site, which cannot be downloaded here); it is drawn the same way.

**Motion set** (:func:`motion_clips`): clips whose label is a direction of travel — right, left,
down, up — so that no single frame tells the label. Digits (1 or 2, drawn from MNIST) move at a
constant velocity along the labelled direction (2-5 pixels a frame) and wrap around the canvas
edges (a torus): every position is then equally likely in every frame, whatever the label, so the
distribution of any one frame is the same for all four classes, and only the order of frames
carries the direction. A classifier that looks at frames one at a time is at chance (25%) by
construction.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..fetch import data_dir

CANVAS = 64  # pixels per side of a frame
FRAMES = 20  # frames per prediction sequence (10 in, 10 out)
DIGITS = 2  # digits per prediction sequence
STEP = 0.1  # distance per frame, as a share of the free range
DIRECTIONS = ("right", "left", "down", "up")  # motion-set classes, in label order
_VELOCITY = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}  # (dy, dx)


def bouncing_paths(
    n: int, frames: int, num_digits: int, rng: np.random.Generator, free: int, step: float = STEP
) -> np.ndarray:
    """Top-left corners (n, num_digits, frames, 2) as int (y, x) in [0, free]: the paper's walk."""
    pos = rng.random((n, num_digits, 2))  # (y, x) in [0, 1)
    theta = rng.random((n, num_digits)) * 2 * np.pi
    vel = np.stack([np.sin(theta), np.cos(theta)], axis=-1)  # (n, k, 2): (v_y, v_x)
    out = np.empty((n, num_digits, frames, 2))
    for t in range(frames):
        pos = pos + vel * step
        low, high = pos <= 0, pos >= 1
        vel = np.where(low | high, -vel, vel)
        pos = np.clip(pos, 0.0, 1.0)
        out[:, :, t] = pos
    return (out * free).astype(np.int64)


def render(
    digits: np.ndarray, corners: np.ndarray, canvas: int = CANVAS, wrap: bool = False
) -> np.ndarray:
    """Draw digits (n, k, d, d) uint8 at corners (n, k, frames, 2) -> (n, frames, canvas, canvas).

    Overlapping digits take the ``max``; with ``wrap`` positions are taken modulo the canvas.
    """
    n, k, frames, _ = corners.shape
    d = digits.shape[-1]
    out = np.zeros((n, frames, canvas, canvas), dtype=np.uint8)
    rows = np.arange(n)[:, None, None]
    offsets = np.arange(d)
    for j in range(k):
        for t in range(frames):
            Y = corners[:, j, t, 0, None] + offsets  # (n, d)
            X = corners[:, j, t, 1, None] + offsets
            if wrap:
                Y, X = Y % canvas, X % canvas
            Y, X = Y[:, :, None], X[:, None, :]  # (n, d, 1), (n, 1, d)
            patch = out[rows, t, Y, X]
            out[rows, t, Y, X] = np.maximum(patch, digits[:, j])
    return out


def moving_mnist(
    images: np.ndarray,
    n: int,
    rng: np.random.Generator,
    frames: int = FRAMES,
    num_digits: int = DIGITS,
    canvas: int = CANVAS,
) -> np.ndarray:
    """``n`` bouncing-digit sequences (n, frames, canvas, canvas) uint8 of ``images`` (M, d, d)."""
    _check_images(images, canvas)
    picks = rng.integers(0, len(images), size=(n, num_digits))
    corners = bouncing_paths(n, frames, num_digits, rng, canvas - images.shape[-1])
    return render(images[picks], corners, canvas)


def motion_clips(
    images: np.ndarray,
    n: int,
    rng: np.random.Generator,
    frames: int = 10,
    canvas: int = CANVAS,
    max_digits: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` motion-set clips (n, frames, canvas, canvas) uint8 and labels (n,) in 0..3.

    Label ``y`` is the index in :data:`DIRECTIONS`. Each clip has 1..``max_digits`` digits; each
    digit starts at a uniform position and moves by 2-5 pixels a frame (its own speed) in the
    labelled direction, wrapping around the edges.
    """
    _check_images(images, canvas)
    labels = rng.integers(0, len(DIRECTIONS), size=n)
    counts = rng.integers(1, max_digits + 1, size=n)
    picks = rng.integers(0, len(images), size=(n, max_digits))
    start = rng.integers(0, canvas, size=(n, max_digits, 1, 2))
    speed = rng.integers(2, 6, size=(n, max_digits, 1, 1))
    unit = np.array([_VELOCITY[d] for d in DIRECTIONS])[labels][:, None, None, :]  # (n, 1, 1, 2)
    corners = start + speed * unit * np.arange(frames)[None, None, :, None]
    digits = images[picks] * (np.arange(max_digits)[None, :] < counts[:, None])[:, :, None, None]
    return render(digits.astype(np.uint8), corners, canvas, wrap=True), labels


def _check_images(images: np.ndarray, canvas: int) -> None:
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] > canvas:
        raise DataError(
            f"digits must be square images (M, d, d) with d <= {canvas}, got {images.shape}"
        )
    if len(images) == 0:
        raise DataError("no digit images to draw from")


class MovingMNISTBatches:
    """Training sequences made on the fly: ``len`` items per epoch, each from (seed, epoch, i).

    ``batches[index]`` -> ``{"frames": (B, frames, 1, canvas, canvas) float32 in [0, 1]}``;
    the engine calls :meth:`set_epoch` before each epoch. ``time_keys`` is ``("frames",)``.
    """

    time_keys = ("frames",)

    def __init__(
        self, images: np.ndarray, size: int, seed: int, frames: int = FRAMES, num_digits=DIGITS
    ) -> None:
        _check_images(images, CANVAS)
        self.images, self.size, self.seed = images, size, seed
        self.frames, self.num_digits = frames, num_digits
        self.epoch = 0

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: Tensor | list[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(index, dtype=torch.long).tolist()
        seqs = [
            moving_mnist(
                self.images,
                1,
                np.random.default_rng([self.seed, self.epoch, i]),
                self.frames,
                self.num_digits,
            )
            for i in index
        ]
        x = np.concatenate(seqs) if seqs else np.zeros((0, self.frames, CANVAS, CANVAS), np.uint8)
        return {"frames": torch.from_numpy(x).unsqueeze(2).float().div_(255.0)}


def load_test_set(
    images: np.ndarray, n: int = 10_000, seed: int = 2015, folder: str | os.PathLike | None = None
) -> np.ndarray:
    """The seeded Moving MNIST test set (n, 20, 64, 64) uint8, drawn from ``images`` once.

    ``images`` are MNIST's test digits. The set is written to ``folder`` (default: the data
    directory's ``moving-mnist``) as ``test-n{n}-seed{seed}.npz`` the first time and read from
    there afterwards (a file of another shape is refused).
    """
    folder = Path(folder) if folder is not None else data_dir() / "moving-mnist"
    path = folder / f"test-n{n}-seed{seed}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                frames = f["frames"]
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{path}: not a Moving MNIST test file ({e}); delete it") from None
        if frames.shape != (n, FRAMES, CANVAS, CANVAS) or frames.dtype != np.uint8:
            raise DataError(f"{path}: holds {frames.shape} {frames.dtype}; delete it")
        return frames
    frames = moving_mnist(images, n, np.random.default_rng(seed))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as tmp:
        np.savez_compressed(tmp, frames=frames)
    os.replace(tmp.name, path)  # a reader never sees a half-written file
    return frames
