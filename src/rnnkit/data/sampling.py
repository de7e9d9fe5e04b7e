"""The order a training epoch reads its items in: shuffled, or bucketed by length.

Padding costs compute: a batch runs to its longest sequence. :func:`bucketed_order` draws
batches of similar lengths while keeping an epoch random: the items are shuffled, cut into
buckets of ``bucket_batches`` batches, each bucket is sorted by length and cut into batches,
and the batches of all buckets are shuffled. Every item is read exactly once per epoch; the
order depends on the generator's seed alone.
"""

from __future__ import annotations

import torch
from torch import Tensor


def shuffled_order(n: int, generator: torch.Generator) -> Tensor:
    """A random permutation of ``range(n)``."""
    return torch.randperm(n, generator=generator)


def bucketed_order(
    lengths: Tensor, batch_size: int, generator: torch.Generator, bucket_batches: int = 50
) -> Tensor:
    """A permutation of the items whose consecutive ``batch_size`` runs are batches of similar
    ``lengths`` (N,), the batches themselves in random order (see the module docstring)."""
    if batch_size < 1 or bucket_batches < 1:
        raise ValueError(f"need batch_size >= 1 and bucket_batches >= 1, got {batch_size}, "
                         f"{bucket_batches}")  # fmt: skip
    order = torch.randperm(len(lengths), generator=generator)
    batches = []
    for bucket in order.split(batch_size * bucket_batches):
        ranked = bucket[torch.argsort(lengths[bucket], stable=True)]
        batches += list(ranked.split(batch_size))
    last = batches.pop() if len(batches[-1]) < batch_size else None  # a short one stays last
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
    return torch.cat(shuffled + ([last] if last is not None else []))
