"""The video task's splits: generated from MNIST digits, or read from a clip file.

* frames, generated: Moving MNIST (:mod:`rnnkit.data.datasets.moving_mnist`). Training clips
  are drawn on the fly from MNIST's first 50,000 training digits (new ones every epoch, from
  ``train.seed``); ``data.val_size`` validation clips from the other 10,000 training digits
  (``data.seed + 1``); the test set from the test digits, drawn once (``data.seed``) and cached.
* clips, generated: the motion set, drawn the same way (train, validation, test).
* a file (:mod:`rnnkit.data.clips`): its ``x_train`` (``y_train``), ``x_val`` or a seeded share
  of train, and ``x_test`` when present.

Batches: frames ``{"frames": (N, T, C, H, W)}`` (uint8 for generated sets, float32 in [0, 1]
from files); clips ``{"clips": (N, L, C, H, W), "lengths": (N,), "y": (N,)}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import DataError, TensorBatches
from rnnkit.data.clips import Clips, read_clips
from rnnkit.data.datasets.mnist import load_idx_dir
from rnnkit.data.datasets.moving_mnist import (
    DIRECTIONS,
    MovingMNISTBatches,
    load_test_set,
    motion_clips,
    moving_mnist,
)
from rnnkit.data.fetch import data_dir

TRAIN_DIGITS = 50_000  # MNIST training digits that draw training clips; the rest draw validation


def mnist_digits(d: Any, split: str) -> np.ndarray:
    """MNIST images (M, 28, 28) uint8 of ``split`` from ``data.data_dir`` (or the data dir)."""
    folder = Path(d.data_dir) if d.data_dir else data_dir() / "mnist"
    images, _ = load_idx_dir(folder, split, download=not d.data_dir)
    return images


def generated(config: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Train, validation and test batches of the generated set of ``data.mode``, and state."""
    d = config.data
    train_digits = mnist_digits(d, "train")
    test_digits = mnist_digits(d, "test")
    fit, held = train_digits[:TRAIN_DIGITS], train_digits[TRAIN_DIGITS:]
    if d.mode == "frames":
        frames = d.input_frames + d.output_frames
        train = MovingMNISTBatches(fit, d.train_size, config.train.seed, frames)
        val = moving_mnist(held, d.val_size, np.random.default_rng(d.seed + 1), frames)
        if frames == 20:
            cache = d.cache_dir or None
            test = load_test_set(test_digits, d.test_size, d.seed, cache)
        else:  # the cached set has the paper's 20 frames
            test = moving_mnist(test_digits, d.test_size, np.random.default_rng(d.seed), frames)
        state = {"frame_shape": [1, *val.shape[2:]], "source": "moving-mnist"}
        return train, frame_batches(val[:, :, None]), frame_batches(test[:, :, None]), state
    sets = []
    for digits, n, seed in (
        (fit, d.train_size, config.train.seed + 100),
        (held, d.val_size, d.seed + 1),
        (test_digits, d.test_size, d.seed),
    ):
        x, y = motion_clips(digits, n, np.random.default_rng(seed), d.clip_frames)
        lengths = np.full(n, d.clip_frames, dtype=np.int64)
        sets.append(clip_batches(x[:, :, None], lengths, y))  # labels are indices already
    state = {"frame_shape": [1, 64, 64], "classes": list(DIRECTIONS), "source": "motion"}
    return (*sets, state)


def from_file(config: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Batches of a clip file's splits (validation carved from train when absent), and state."""
    d = config.data
    splits = read_clips(d.path)
    train = splits.get("train", splits.get(""))
    if train is None:
        raise DataError(f"{d.path}: needs training clips (x_train)")
    val, test = splits.get("val"), splits.get("test")
    if val is None:
        order = np.random.default_rng(d.seed).permutation(len(train))
        cut = max(1, int(round(d.val_fraction * len(train))))
        if cut >= len(train):
            raise DataError(f"{d.path}: {len(train)} training clips are too few to hold some out")
        val, train = _subset(train, order[:cut]), _subset(train, order[cut:])
    shape = train.frame_shape
    for name, s in (("x_val", val), ("x_test", test)):
        if s is not None and s.frame_shape != shape:
            raise DataError(
                f"{d.path}: {name} has frames of (C, H, W) = {s.frame_shape}, x_train has {shape}"
            )
    state: dict[str, Any] = {"frame_shape": list(shape), "source": str(d.path)}
    if d.mode == "frames":
        need = d.input_frames + d.output_frames
        sets = [None if s is None else frames_of(s, need, f"{d.path}") for s in (train, val, test)]
        return (*sets, state)
    labelled = [s for s in (train, val, test) if s is not None]
    if any(s.y is None for s in labelled):
        raise DataError(f"{d.path}: clips mode needs labels y_train (and y_val, y_test)")
    classes = sorted({v.item() for s in labelled for v in s.y})
    state["classes"] = classes
    sets = [
        None if s is None else labelled_batches(s, classes, str(d.path)) for s in (train, val, test)
    ]
    return (*sets, state)


def _subset(clips: Clips, index: np.ndarray) -> Clips:
    y = None if clips.y is None else clips.y[index]
    return Clips(clips.x[index], clips.lengths[index], y)


def frames_of(clips: Clips, need: int, where: str) -> TensorBatches:
    """Frame-prediction batches: every clip needs ``need`` frames (the first ``need`` are used)."""
    short = np.flatnonzero(clips.lengths < need)
    if len(short):
        raise DataError(
            f"{where}: clip {int(short[0])} has {int(clips.lengths[short[0]])} frames; frame "
            f"prediction needs {need} (data.input_frames + data.output_frames)"
        )
    return frame_batches(clips.x[:, :need])


def frame_batches(frames: np.ndarray) -> TensorBatches:
    return TensorBatches({"frames": torch.from_numpy(np.ascontiguousarray(frames))}, ())


def clip_batches(x: np.ndarray, lengths: np.ndarray, y: np.ndarray | None) -> TensorBatches:
    tensors = {"clips": torch.from_numpy(x), "lengths": torch.from_numpy(lengths)}
    if y is not None:
        tensors["y"] = torch.as_tensor(y, dtype=torch.long)
    return TensorBatches(tensors, time_keys=("clips",))


def labelled_batches(clips: Clips, classes: list, where: str) -> TensorBatches:
    """Clip batches with labels mapped to class indices (unknown labels refused)."""
    y = None
    if clips.y is not None:
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted({v.item() for v in clips.y} - set(index))
        if unknown:
            raise DataError(f"{where}: labels {unknown[:5]} are not among the classes {classes}")
        y = np.array([index[v.item()] for v in clips.y], dtype=np.int64)
    return clip_batches(clips.x, clips.lengths, y)


def check_frame_shape(clips: Clips, state: Mapping[str, Any], where: str) -> None:
    """Refuse clips whose frames differ in size from those the model was trained on."""
    if list(clips.frame_shape) != list(state["frame_shape"]):
        raise DataError(
            f"{where}: frames are (C, H, W) = {tuple(clips.frame_shape)}, the model was trained "
            f"on {tuple(state['frame_shape'])}"
        )
