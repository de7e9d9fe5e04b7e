"""Train / validation / test splits: in time order for series and streams, at random for sets.

* :func:`chronological_split` — contiguous row ranges in time order (time series, token
  streams, the records an anomaly detector learns from).
* :func:`random_split` — a seeded random (by default stratified) share of labelled sequences.
* :func:`group_split` — seeded random groups of items (e.g. every translation of one source
  sentence), so that no group has items in two parts.

A share below 1 is a fraction of the rows, a share of 1 or more a row count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .sequences import Sequences


@dataclass(frozen=True)
class Split:
    """Chronological row ranges ``[start, end)`` of train, validation and test.

    ``with_context(part, lookback)`` is the range a window loader reads for a part: validation and
    test windows start ``lookback`` rows before their border so that their first forecast starts
    exactly at the border (the Informer protocol).
    """

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def with_context(self, part: str, lookback: int) -> tuple[int, int]:
        start, end = getattr(self, part)
        return (start if part == "train" else max(0, start - lookback), end)

    def sizes(self) -> dict[str, int]:
        """Rows per part: ``{"train": ..., "val": ..., "test": ...}``."""
        return {p: b - a for p, (a, b) in (("train", self.train), ("val", self.val),
                                           ("test", self.test))}  # fmt: skip


def chronological_split(
    n_rows: int, val: float | int = 0.1, test: float | int = 0.2, *, source: str = "series"
) -> Split:
    """Split ``n_rows`` into train, validation and test in time order.

    ``val`` and ``test`` are fractions (< 1) or row counts (>= 1). With fractions the borders
    sit at ``round(n * f_train)`` and ``round(n * (f_train + val))``, ``f_train = 1 - val - test``
    (the customary "first 90% / next 5% / last 5%" of a stream). Raises ``ValueError`` naming
    ``source`` when the training part would be empty.
    """
    for name, part in (("val", val), ("test", test)):
        if part < 0 or (isinstance(part, float) and not part.is_integer() and part >= 1):
            raise ValueError(f"{name} must be a fraction in [0, 1) or a row count, got {part}")
    counts = [int(p) if p >= 1 else None for p in (val, test)]
    if counts[0] is not None and counts[1] is not None:
        a, b = n_rows - counts[0] - counts[1], n_rows - counts[1]
    else:
        f_val, f_test = (p / n_rows if p >= 1 else p for p in (val, test))
        f_train = 1 - f_val - f_test
        a, b = int(round(n_rows * f_train)), int(round(n_rows * (f_train + f_val)))
    if a <= 0 or b < a or b > n_rows:
        raise ValueError(
            f"{source}: {n_rows} rows cannot hold {b - a} validation and {n_rows - b} test rows "
            f"besides a training part"
        )
    return Split((0, a), (a, b), (b, n_rows))


def random_split(
    data: Sequences, fraction: float, seed: int, stratify: bool = True
) -> tuple[Sequences, Sequences]:
    """Split off ``fraction`` of ``data`` at random (per label when ``stratify``): (rest, part)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    n = len(data)
    if stratify and data.y is not None:
        part = []
        for label in np.unique(data.y):
            members = rng.permutation(np.flatnonzero(data.y == label))
            part.append(members[: int(round(fraction * len(members)))])
        taken = np.sort(np.concatenate(part))
    else:
        taken = np.sort(rng.permutation(n)[: int(round(fraction * n))])
    if len(taken) == 0 or len(taken) == n:
        raise ValueError(f"splitting {n} sequences by {fraction} leaves one side empty")
    rest = np.setdiff1d(np.arange(n), taken)
    return data.subset(rest), data.subset(taken)


def group_split(
    groups: Sequence[Hashable],
    val: float | int,
    test: float | int,
    seed: int,
    *,
    source: str = "items",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item indices of train, validation and test, whole groups at a time.

    ``groups[i]`` names the group of item i (e.g. its source sentence). The distinct groups, in
    order of first appearance, are shuffled by ``seed``; the first ``test`` of them go to test,
    the next ``val`` to validation, the rest to train (a share below 1 is a fraction of the
    groups, 1 or more a number of groups). Every item of a group lands in the same part, so a
    sentence with several translations never sits on both sides of a split. The indices come
    back sorted; ``ValueError`` naming ``source`` when the training part would be empty.
    """
    index: dict[Hashable, int] = {}
    ids = np.fromiter((index.setdefault(g, len(index)) for g in groups), np.int64, len(groups))
    n = len(index)
    counts = [int(p) if p >= 1 else int(round(p * n)) for p in (val, test)]
    if min(val, test) < 0 or sum(counts) >= n:
        raise ValueError(
            f"{source}: {n} distinct groups cannot hold {counts[0]} validation and {counts[1]} "
            f"test groups besides a training part"
        )
    part = np.zeros(n, dtype=np.int64)  # 0 train, 1 validation, 2 test, per group
    order = np.random.default_rng(seed).permutation(n)
    part[order[: counts[1]]] = 2
    part[order[counts[1] : counts[1] + counts[0]]] = 1
    item_part = part[ids]
    return tuple(np.flatnonzero(item_part == k) for k in (0, 1, 2))  # type: ignore[return-value]
