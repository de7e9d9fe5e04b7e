"""Clips of frames: reading them from ``.npz`` / ``.npy`` files and checking them.

A clip is L frames of C channels of H x W pixels. Files hold, per split (suffix ``_train``,
``_val``, ``_test`` or none):

* ``x{suffix}``: clips as one array (N, L, H, W) (one channel) or (N, L, C, H, W), uint8
  (0-255, read as /255) or floats in [0, 1]; or an object array of N clips of their own lengths
  (each (L_i, H, W) or (L_i, C, H, W)), padded here and given lengths;
* ``y{suffix}`` (N,): class labels (integers or names), for clip classification.

A ``.npy`` file holds one such ``x``. Every problem is one :class:`DataError` line naming the
file and array: wrong rank, frames of different sizes, an empty clip or no clips, values that are
NaN, infinite or outside [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .files import _checked_labels, _read_npy, read_npz


@dataclass
class Clips:
    """N right-padded clips with their lengths, and labels when the file has them.

    Attributes:
        x: (N, L, C, H, W) float32 in [0, 1]; frames past a clip's length are 0.
        lengths: (N,) int64, each in [1, L].
        y: (N,) labels or None.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(self.x.shape[2:])


def read_clips(path: str | Path) -> dict[str, Clips]:
    """The clip splits of a file: ``{"train": Clips, "val": ..., "test": ..., "": ...}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".npy":
        with path.open("rb") as f:
            try:
                arrays = {"x": _read_npy(f)}
            except Exception as e:  # a damaged file fails in many ways; none runs code
                raise DataError(f"{path}: not a readable .npy array ({e})") from None
    elif path.suffix == ".npz":
        arrays = read_npz(path)
    else:
        raise DataError(f"{path}: clips are read from .npz or .npy files, got {path.suffix!r}")
    splits = {}
    for suffix in ("", "_train", "_val", "_test"):
        if f"x{suffix}" in arrays:
            where = f"{path}: x{suffix}"
            clips = as_clips(arrays[f"x{suffix}"], where)
            y = arrays.get(f"y{suffix}")
            if y is not None:
                clips.y = _checked_labels(np.asarray(y), f"{path}: y{suffix}", len(clips))
            splits[suffix.lstrip("_")] = clips
    if not splits:
        raise DataError(f"{path}: holds no clips (arrays x, x_train, x_val or x_test)")
    return splits


def as_clips(x: np.ndarray, where: str) -> Clips:
    """Check one array of clips (dense or an object array of clips) and scale it to [0, 1]."""
    if x.dtype == object:
        return _ragged(list(x), where)
    if x.ndim == 4:
        x = x[:, :, None]  # (N, L, H, W) -> (N, L, 1, H, W)
    if x.ndim != 5:
        raise DataError(
            f"{where}: clips must be (N, L, H, W) or (N, L, C, H, W), got shape {x.shape}"
        )
    if len(x) == 0:
        raise DataError(f"{where}: holds no clips (N = 0)")
    if x.shape[1] == 0:
        raise DataError(f"{where}: clips have no frames (L = 0)")
    if min(x.shape[2:]) == 0:
        raise DataError(f"{where}: frames are empty, shape (C, H, W) = {x.shape[2:]}")
    scaled = _scaled(x, where)
    return Clips(scaled, np.full(len(x), x.shape[1], dtype=np.int64))


def _ragged(clips: list, where: str) -> Clips:
    """An object array of clips of their own lengths -> padded clips with lengths."""
    if not clips:
        raise DataError(f"{where}: holds no clips (N = 0)")
    checked = []
    for i, clip in enumerate(clips):
        clip = np.asarray(clip)
        if clip.ndim == 3:
            clip = clip[:, None]
        if clip.ndim != 4:
            raise DataError(
                f"{where}: clip {i} must be (L, H, W) or (L, C, H, W), got shape {clip.shape}"
            )
        if len(clip) == 0:
            raise DataError(f"{where}: clip {i} has no frames")
        if checked and clip.shape[1:] != checked[0].shape[1:]:
            raise DataError(
                f"{where}: clip {i} has frames of (C, H, W) = {clip.shape[1:]}, clip 0 has "
                f"{checked[0].shape[1:]}: every frame must have the same size"
            )
        checked.append(_scaled(clip, f"{where}: clip {i}"))
    lengths = np.array([len(c) for c in checked], dtype=np.int64)
    x = np.zeros((len(checked), int(lengths.max()), *checked[0].shape[1:]), dtype=np.float32)
    for i, clip in enumerate(checked):
        x[i, : len(clip)] = clip
    return Clips(x, lengths)


def _scaled(x: np.ndarray, where: str) -> np.ndarray:
    """uint8 -> /255; floats must be finite and in [0, 1]; float32 out."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: frames must be uint8 or floats in [0, 1], got dtype {x.dtype}")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{where}: NaN or infinite value at index {at}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise DataError(
            f"{where}: float frames must lie in [0, 1] (or be uint8 0-255), got values in "
            f"[{x.min():g}, {x.max():g}]"
        )
    return x
