r"""Two ways to score a language model on a token sequence, to state beside every figure.

Both report the mean cross-entropy in nats per predicted token,

    loss = -(1/|P|) * sum_{t in P} log p(x_{t+1} | context_t),

and differ in the context each prediction gets:

* :func:`stream_loss`: the sequence is read from its first token to its last with the state
  carried throughout (``rows`` parallel contiguous streams, each starting from a zero state), so
  token t sees every token of its stream before it. ``rows=1`` scores every token but the
  first with the whole preceding text of the sequence as context.
* :func:`block_loss`: the sequence is cut into consecutive blocks of ``block`` + 1 tokens
  overlapping by one (block k reads tokens ``[k*block, (k+1)*block]``); each block starts
  from a zero state and predicts its ``block`` next tokens, so the j-th prediction of a block
  has j tokens of context (0 <= j < block). This is the deterministic counterpart of
  nanoGPT's estimate (``estimate_loss`` in its ``train.py``: random blocks of ``block_size``
  tokens, each predicted from the tokens before it in the block); every token is predicted
  once, and a short last block counts with its own length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.no_grad()
def stream_loss(model: nn.Module, ids: Tensor, rows: int = 1, chunk: int = 1024) -> float:
    """Nats per token of ``ids`` (L,) read as ``rows`` contiguous streams, state carried.

    ``model(tokens (N, T), state) -> (logits (N, T, V), state)``. The tail that does not fill
    the ``rows`` streams equally (fewer than ``rows`` tokens) is left out, as in training.
    """
    if rows < 1 or chunk < 1:
        raise ValueError(f"rows and chunk must be >= 1, got {rows}, {chunk}")
    steps = (len(ids) - 1) // rows
    if steps < 1:
        raise ValueError(f"{len(ids)} tokens cannot fill {rows} streams of at least 2 tokens")
    was_training = model.training
    model.eval()
    x = ids[: rows * steps].view(rows, steps)  # (N, L/N)
    y = ids[1 : rows * steps + 1].view(rows, steps)
    state, total = None, 0.0
    for start in range(0, steps, chunk):
        logits, state = model(x[:, start : start + chunk], state)  # (N, T, V)
        target = y[:, start : start + chunk]
        total += float(
            F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), reduction="sum")
        )
    model.train(was_training)
    return total / y.numel()


@torch.no_grad()
def block_loss(model: nn.Module, ids: Tensor, block: int = 256, batch: int = 64) -> float:
    """Nats per token of ``ids`` (L,) predicted in blocks of ``block`` tokens from a zero
    state, ``batch`` blocks at a time (nanoGPT's protocol, every block instead of a sample)."""
    if block < 1 or batch < 1:
        raise ValueError(f"block and batch must be >= 1, got {block}, {batch}")
    if len(ids) < 2:
        raise ValueError(f"{len(ids)} tokens: scoring needs at least 2")
    was_training = model.training
    model.eval()
    full = (len(ids) - 1) // block
    x = ids[: full * block].view(full, block)  # (B_all, block)
    y = ids[1 : full * block + 1].view(full, block)
    total = 0.0
    for start in range(0, full, batch):
        logits, _ = model(x[start : start + batch])  # (B, block, V), zero initial state
        total += float(
            F.cross_entropy(
                logits.float().flatten(0, 1), y[start : start + batch].flatten(), reduction="sum"
            )
        )
    tail = len(ids) - 1 - full * block
    if tail:
        logits, _ = model(ids[full * block : -1].view(1, tail))
        total += float(F.cross_entropy(logits.float()[0], ids[full * block + 1 :], reduction="sum"))
    model.train(was_training)
    return total / (len(ids) - 1)
