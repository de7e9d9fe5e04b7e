"""``TensorBatches``: an in-memory data set read a whole batch at a time.

Indexing with a tensor of N indices returns one batch (a dict of tensors) in a single gather per
tensor, with no per-item collation: for data that fits in memory this is what a hand-written
loop does, and what keeps the engine's per-step overhead near zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


class TensorBatches:
    """Tensors sharing a leading N axis, indexed by a batch of indices.

    Args:
        tensors: name -> tensor with N rows, e.g. ``{"x": (N, T, F), "lengths": (N,), "y": (N,)}``.
        time_keys: names of tensors whose second axis is time. When a ``lengths`` tensor is
            present, a batch's time axis is cut to its longest sequence.

    ``batches[index]`` (``index`` a 1-D int tensor or list) -> ``{name: tensor[index]}``.
    """

    def __init__(self, tensors: Mapping[str, Tensor], time_keys: Sequence[str] = ("x",)) -> None:
        if not tensors:
            raise ValueError("tensors must hold at least one tensor")
        sizes = {name: len(t) for name, t in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"every tensor needs the same number of rows, got {sizes}")
        self.tensors = dict(tensors)
        self.time_keys = tuple(k for k in time_keys if k in self.tensors)
        self._n = next(iter(sizes.values()))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Tensor | Sequence[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(index, dtype=torch.long)
        batch = {name: t[index] for name, t in self.tensors.items()}
        lengths = batch.get("lengths")
        if lengths is not None and self.time_keys and len(index):
            T = int(lengths.max())
            for k in self.time_keys:
                if batch[k].shape[1] > T:
                    batch[k] = batch[k][:, :T]
        return batch

    def to(self, device: torch.device | str) -> TensorBatches:
        """A copy with every tensor on ``device`` (so batches need no transfer)."""
        return TensorBatches({k: t.to(device) for k, t in self.tensors.items()}, self.time_keys)
