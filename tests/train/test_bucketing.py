"""Length bucketing: every item once per epoch, batches of similar lengths, seeded order."""

from __future__ import annotations

import torch

from rnnkit.data import TensorBatches
from rnnkit.data.sampling import bucketed_order
from rnnkit.train.loading import TrainBatches


def test_every_item_once_and_batches_sorted_within_buckets():
    lengths = torch.randint(1, 200, (1003,), generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    order = bucketed_order(lengths, batch_size=16, generator=g, bucket_batches=8)
    assert sorted(order.tolist()) == list(range(1003))
    batches = order.split(16)
    assert len(batches[-1]) == 1003 % 16  # the short batch comes last
    spread = [int(lengths[b].max() - lengths[b].min()) for b in batches]
    plain = [int(lengths[b].max() - lengths[b].min()) for b in torch.randperm(1003).split(16)]
    assert sum(spread) < sum(plain) / 4  # far less padding than a plain shuffle
    for b in batches:  # each batch is a run of one bucket's sorted order
        assert lengths[b].tolist() == sorted(lengths[b].tolist())
    again = bucketed_order(lengths, 16, torch.Generator().manual_seed(1), bucket_batches=8)
    assert torch.equal(order, again)


def test_train_batches_bucket_per_epoch_and_per_process():
    n = 203
    lengths = torch.randint(1, 40, (n,), generator=torch.Generator().manual_seed(2))
    source = TensorBatches({"x": torch.zeros(n, 40, 1), "lengths": lengths, "i": torch.arange(n)})
    one = TrainBatches(source, batch_size=10, seed=0, bucketing=4)
    seen = [int(i) for batch, _ in one for i in batch["i"]]
    assert sorted(seen) == list(range(n))
    one.set_epoch(1)
    assert [int(i) for batch, _ in one for i in batch["i"]] != seen  # a new order each epoch
    shards = [TrainBatches(source, batch_size=10, seed=0, rank=r, world=2, bucketing=4)
              for r in range(2)]  # fmt: skip
    items = [[int(i) for batch, _ in s for i in batch["i"]] for s in shards]
    assert len(items[0]) == len(items[1]) and not set(items[0]) & set(items[1])
    assert [len(b["i"]) for b, _ in shards[0]] == [5] * len(list(shards[0]))
