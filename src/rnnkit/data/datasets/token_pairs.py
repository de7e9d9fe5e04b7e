"""Synthetic sentence pairs, from a seed: copy or reverse a sequence of random tokens.

The smallest translation problems: a source "sentence" is 3-8 tokens drawn uniformly from a
vocabulary of 20 made-up words (``w00`` ... ``w19``), joined by spaces; its "translation" is
the same tokens (``copy``) or the same tokens in reverse order (``reverse``). An encoder-decoder
with attention learns either in a minute (every output token needs exactly one source token,
which attention finds); without attention, the whole sentence has to pass through one state.
"""

from __future__ import annotations

import numpy as np

from ..parallel import ParallelText

WORDS = tuple(f"w{i:02d}" for i in range(20))


def token_pairs(
    kind: str, n: int, seed: int, min_length: int = 3, max_length: int = 8
) -> ParallelText:
    """``n`` pairs of ``kind`` ``"copy"`` or ``"reverse"`` (see the module docstring)."""
    if kind not in ("copy", "reverse"):
        raise ValueError(f"kind must be 'copy' or 'reverse', got {kind!r}")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    source, target = [], []
    for length in lengths:
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), size=length)]
        source.append(" ".join(words))
        target.append(" ".join(words if kind == "copy" else words[::-1]))
    return ParallelText(source, target, list(range(1, n + 1)), f"{kind} ({n} pairs, seed {seed})")
