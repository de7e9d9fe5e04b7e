"""The order in which the engine reads batches: seeded per epoch, sharded per process.

Training reads :class:`TrainBatches`: a permutation drawn from ``(seed, epoch)`` alone, so an
epoch's order does not depend on what ran before it (a resumed run reads what an uninterrupted
one reads), split evenly across data-parallel processes. Each item is ``(batch, reset)``:
``reset`` is True where the recurrent state starts afresh (False between truncated-BPTT chunks
of one batch, and between the pieces of a stream).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.sampling import bucketed_order, shuffled_order

from .tbptt import is_stream, split_time


class TrainBatches:
    """One epoch of training batches for process ``rank`` of ``world``.

    Args:
        source: a :class:`rnnkit.data.TensorBatches` (shuffled, batched here) or a
            :class:`~rnnkit.train.tbptt.StreamBatches` (read in order, state carried).
        batch_size: the global batch size; each process takes ``batch_size // world``.
        seed: with the epoch, fixes the shuffling.
        tbptt: chunk length for truncated BPTT (0: whole batches).
        bucketing: batches drawn from buckets of this many batches sorted by ``lengths``
            (:func:`rnnkit.data.sampling.bucketed_order`); 0 shuffles plainly.

    A source with a ``set_epoch(epoch)`` method is told each epoch before it is read (a data set
    generated on the fly draws that epoch's items from ``(seed, epoch, index)``).
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        tbptt: int = 0,
        bucketing: int = 0,
    ) -> None:
        if batch_size % world:
            raise ValueError(
                f"train.batch_size ({batch_size}) must be divisible by the number of "
                f"processes ({world})"
            )
        self.stream = is_stream(source)
        self.source = source.shard(rank, world) if self.stream and world > 1 else source
        self.batch_size = batch_size // world
        self.seed, self.rank, self.world, self.tbptt = seed, rank, world, tbptt
        self.bucketing = bucketing
        self.epoch = 0
        self.time_keys = tuple(getattr(source, "time_keys", ("x",)))
        if not self.stream:
            self.per_rank = len(source) // world  # equal shares: every process steps alike
            if self.per_rank == 0:
                raise ValueError(f"{len(source)} training items cannot feed {world} processes")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.source, "set_epoch"):
            self.source.set_epoch(epoch)

    def batches(self) -> int:
        """Number of batches (before any truncated-BPTT split) in one epoch."""
        if self.stream:
            return len(self.source)
        return math.ceil(self.per_rank / self.batch_size)

    def __len__(self) -> int:
        """Optimiser steps per epoch."""
        if self.stream or not self.tbptt:
            return self.batches()
        T = max(self.source.tensors[k].shape[1] for k in self.time_keys if k in self.source.tensors)
        return self.batches() * math.ceil(T / self.tbptt)

    def __iter__(self) -> Iterator[tuple[dict[str, Tensor], bool]]:
        if self.stream:
            for j in range(len(self.source)):
                yield self.source[j], j == 0
            return
        for index in self._indices().split(self.batch_size):
            batch = self.source[index]
            if not self.tbptt:
                yield batch, True
                continue
            for i, piece in enumerate(split_time(batch, self.tbptt, self.time_keys)):
                yield piece, i == 0

    def _indices(self) -> Tensor:
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        lengths = getattr(self.source, "tensors", {}).get("lengths")
        if self.bucketing and lengths is not None:
            order = bucketed_order(lengths, self.batch_size, g, self.bucketing)
            if self.world == 1:
                return order
            # whole batches, the same number for every process (a few items wait an epoch)
            batches = order.split(self.batch_size)[self.rank :: self.world]
            return torch.cat(batches[: self.per_rank // self.batch_size])
        order = shuffled_order(len(self.source), g)
        return order[self.rank * self.per_rank : (self.rank + 1) * self.per_rank]


def eval_batches(source: Any, batch_size: int) -> Iterator[tuple[dict[str, Tensor], bool]]:
    """Every item of ``source`` once, in order: ``(batch, reset)`` pairs as for training."""
    if is_stream(source):
        for j in range(len(source)):
            yield source[j], j == 0
        return
    for start in range(0, len(source), batch_size):
        yield source[torch.arange(start, min(start + batch_size, len(source)))], True


def eval_length(source: Any, batch_size: int) -> int:
    """Number of batches :func:`eval_batches` yields."""
    return len(source) if is_stream(source) else math.ceil(len(source) / batch_size)


def derive_seed(*values: int) -> int:
    """A 63-bit seed from several integers (seed, epoch, rank ...), well spread."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v + 0x632BE59BD9B4E019 + (h << 6) + (h >> 2))) & 0xFFFFFFFFFFFFFFFF
    return h >> 1
