"""Truncated backpropagation through time.

Two ways a long sequence reaches the engine, both with the recurrent state carried between
consecutive pieces and detached at their boundary (so gradients stop there, values do not):

* ``train.tbptt = k``: every training batch of long sequences is cut along time into chunks of
  ``k`` steps (:func:`split_time`); each chunk is one optimiser step, and the state resets at
  the next batch.
* :class:`StreamBatches`: one long stream (a text, a time series) is folded into N parallel
  rows and read as consecutive (N, k) chunks; the state runs on across the whole epoch.

With ``k`` equal to the sequence length, truncated BPTT is full BPTT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import Tensor


def split_time(batch: Mapping[str, Tensor], chunk: int, time_keys: tuple[str, ...]) -> list[dict]:
    """Cut the ``time_keys`` tensors of ``batch`` (axis 1 is time) into chunks of ``chunk`` steps.

    Other tensors are shared by every chunk. Batches with per-sequence ``lengths`` are refused:
    a chunk could then hold sequences with no real step.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if "lengths" in batch:
        raise ValueError(
            "train.tbptt needs equal-length sequences; this batch has 'lengths' (variable lengths)"
        )
    keys = [k for k in time_keys if k in batch]
    if not keys:
        raise ValueError(f"train.tbptt: the batch has none of the time keys {time_keys}")
    T = batch[keys[0]].shape[1]
    if any(batch[k].shape[1] != T for k in keys):
        raise ValueError(f"train.tbptt: time keys {keys} differ in length")
    chunks = []
    for start in range(0, T, chunk):
        piece = dict(batch)
        for k in keys:
            piece[k] = batch[k][:, start : start + chunk]
        chunks.append(piece)
    return chunks


def detach_state(state: Any) -> Any:
    """``state`` with every tensor detached (tuples, lists and dicts are walked)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    return state


class StreamBatches:
    """A long stream read as consecutive (N, chunk) pieces of N parallel rows.

    The stream's L steps are cut into N equal rows (the tail that does not fit is dropped), and
    piece ``j`` holds steps ``[j*chunk, (j+1)*chunk)`` of every row, so row n of piece j+1
    continues row n of piece j: the engine carries the state across pieces for a whole epoch.

    Args:
        tensors: name -> (L, ...) tensor, e.g. ``{"x": tokens[:-1], "y": tokens[1:]}``.
        batch_size: N, the number of parallel rows.
        chunk: steps per piece (the truncation length).

    ``stream[j]`` -> ``{name: (N, chunk, ...)}`` (the last piece may be shorter).
    """

    carries_state = True

    def __init__(self, tensors: Mapping[str, Tensor], batch_size: int, chunk: int) -> None:
        if batch_size < 1 or chunk < 1:
            raise ValueError(f"batch_size and chunk must be >= 1, got {batch_size}, {chunk}")
        lengths = {name: len(t) for name, t in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"every stream needs the same length, got {lengths}")
        L = next(iter(lengths.values()))
        steps = L // batch_size
        if steps < 1:
            raise ValueError(f"a stream of {L} steps cannot fill {batch_size} rows")
        # (L, ...) -> (N, L // N, ...): row n is the n-th contiguous stretch of the stream
        self.rows = {
            name: t[: steps * batch_size].reshape(batch_size, steps, *t.shape[1:])
            for name, t in tensors.items()
        }
        self.batch_size, self.chunk, self.steps = batch_size, chunk, steps

    def __len__(self) -> int:
        return math.ceil(self.steps / self.chunk)

    def __getitem__(self, j: int) -> dict[str, Tensor]:
        if not 0 <= j < len(self):
            raise IndexError(f"piece {j} out of range [0, {len(self)})")
        s = slice(j * self.chunk, (j + 1) * self.chunk)
        return {name: rows[:, s] for name, rows in self.rows.items()}

    def shard(self, rank: int, world: int) -> StreamBatches:
        """The rows of process ``rank`` of ``world`` (data-parallel training splits the rows)."""
        if self.batch_size % world:
            raise ValueError(
                f"train.batch_size ({self.batch_size}) must be divisible by the {world} processes"
            )
        part = object.__new__(StreamBatches)
        per = self.batch_size // world
        part.rows = {k: v[rank * per : (rank + 1) * per] for k, v in self.rows.items()}
        part.batch_size, part.chunk, part.steps = per, self.chunk, self.steps
        return part


def is_stream(source: Any) -> bool:
    """True for sources read in order with the state carried across batches."""
    return bool(getattr(source, "carries_state", False))
