"""Labelled sequences held as NumPy arrays: padding, lengths and masks.

Shape symbols: N sequences, T the longest length, F features per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Sequences:
    """N right-padded sequences with their lengths and (optionally) one label each.

    Attributes:
        x: (N, T, F) float32, zeros past each sequence's end.
        lengths: (N,) int64, each in [1, T].
        y: (N,) labels (integers or strings), or None for unlabelled inputs.
        names: (N,) a name per sequence (a CSV's sequence ids), or None.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None = None
    names: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 3:
            raise ValueError(f"x must be (N, T, F), got shape {self.x.shape}")
        if self.lengths.shape != (len(self.x),):
            raise ValueError(f"lengths must be ({len(self.x)},), got shape {self.lengths.shape}")
        if len(self.x) and (self.lengths.min() < 1 or self.lengths.max() > self.x.shape[1]):
            raise ValueError(f"lengths must lie in [1, {self.x.shape[1]}]")
        if self.y is not None and self.y.shape != (len(self.x),):
            raise ValueError(f"y must be ({len(self.x)},), got shape {self.y.shape}")
        if self.names is not None and self.names.shape != (len(self.x),):
            raise ValueError(f"names must be ({len(self.x)},), got shape {self.names.shape}")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def num_features(self) -> int:
        return self.x.shape[2]

    def subset(self, index: np.ndarray) -> Sequences:
        """The sequences at ``index``, trimmed to their longest length."""
        lengths = self.lengths[index]
        T = int(lengths.max()) if len(lengths) else self.x.shape[1]
        y = None if self.y is None else self.y[index]
        names = None if self.names is None else self.names[index]
        return Sequences(self.x[index, :T], lengths, y, names)


def pad_sequences(seqs: Sequence[np.ndarray], name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    """Right-pad (T_i, F) arrays with zeros into (N, T, F) float32; also return the lengths (N,)."""
    if len(seqs) == 0:
        raise ValueError(f"{name} holds no sequences")
    arrays = []
    for i, s in enumerate(seqs):
        a = np.asarray(s, dtype=np.float32)
        if a.ndim == 1:
            a = a[:, None]  # (T,) -> (T, 1): one feature per step
        if a.ndim != 2 or len(a) == 0:
            raise ValueError(f"{name}[{i}] must be a non-empty (T, F) array, got shape {a.shape}")
        arrays.append(a)
    features = {a.shape[1] for a in arrays}
    if len(features) != 1:
        raise ValueError(
            f"{name}: every sequence needs the same number of features, got {features}"
        )
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    x = np.zeros((len(arrays), int(lengths.max()), features.pop()), dtype=np.float32)
    for i, a in enumerate(arrays):
        x[i, : len(a)] = a
    return x, lengths


def length_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """(N, T) bool, True at real steps: ``mask[n, t] = t < lengths[n]``."""
    T = int(lengths.max()) if max_len is None else max_len
    return torch.arange(T, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)
