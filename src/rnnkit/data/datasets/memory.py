"""The long-memory problems: the adding problem and the copying-memory problem, from a seed.

Both are generated (no file, no download) as in the code of Arjovsky, Shah & Bengio (2016),
"Unitary evolution recurrent neural networks" (ICML), sections 4.1 and 4.2, which took them
from Hochreiter & Schmidhuber (1997). A model that remembers nothing reaches the *baseline*
loss; a model solves a problem when its loss falls far below it.

**Adding** (T steps, 2 features): channel 0 holds T numbers drawn from U[0, 1); channel 1 marks
two of them with a 1, one at a uniform position in [0, T/2) and one in [T/2, T). The target is
the sum of the two marked numbers; the loss is the mean squared error. Predicting the mean, 1,
every time gives Var(u_1 + u_2) = 2/12: baseline 1/6 ≈ 0.167.

**Copying** (T + 20 steps, symbols 0-9): 10 symbols drawn from {1, ..., 8}, T - 1 blanks (0),
the delimiter 9, then 10 blanks. The target is T + 10 blanks followed by the 10 symbols; the loss
is the cross-entropy averaged over all T + 20 steps (9 classes, 0-8). Predicting a blank
everywhere and a uniform guess over the 8 symbols at the last 10 steps gives
baseline 10 log 8 / (T + 20).

Symbols are stored as ``uint8`` (a copying set of 100,000 sequences at T = 500 takes 52 MB, not
416 MB as int64); convert with ``.astype(np.int64)`` or ``torch.from_numpy(x).long()``.
"""

from __future__ import annotations

import math

import numpy as np

COPY_SYMBOLS = 10  # symbols to remember
COPY_ALPHABET = 8  # drawn from 1..8
BLANK, DELIMITER = 0, 9
COPY_INPUTS = 10  # input symbols 0-9
COPY_OUTPUTS = 9  # output classes 0-8 (the delimiter is never a target)


def adding_problem(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` adding-problem sequences of ``length`` steps.

    Returns:
        x: (n, length, 2) float32: the numbers, and the two markers.
        y: (n,) float32: the sum of the two marked numbers.
    """
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    x = np.zeros((n, length, 2), dtype=np.float32)
    x[:, :, 0] = rng.random((n, length), dtype=np.float32)
    half = length // 2
    rows = np.arange(n)
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y.astype(np.float32)


def copying_problem(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` copying-memory sequences with ``length`` (T) blanks between symbols and delimiter.

    Returns:
        x: (n, T + 20) uint8 input symbols: 10 symbols in 1-8, T - 1 blanks, 9, 10 blanks.
        y: (n, T + 20) uint8 targets: T + 10 blanks, then the 10 symbols.
    """
    if length < 1:
        raise ValueError(f"the copying problem needs length >= 1, got {length}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    steps = length + 2 * COPY_SYMBOLS
    symbols = rng.integers(1, COPY_ALPHABET + 1, size=(n, COPY_SYMBOLS), dtype=np.uint8)
    x = np.full((n, steps), BLANK, dtype=np.uint8)
    x[:, :COPY_SYMBOLS] = symbols
    x[:, length + COPY_SYMBOLS - 1] = DELIMITER
    y = np.full((n, steps), BLANK, dtype=np.uint8)
    y[:, -COPY_SYMBOLS:] = symbols
    return x, y


def adding_baseline() -> float:
    """MSE of always predicting 1: the variance of the sum of two U[0, 1) numbers, 1/6."""
    return 2.0 / 12.0


def copying_baseline(length: int) -> float:
    """Mean cross-entropy of the memoryless strategy over T + 20 steps: 10 log 8 / (T + 20)."""
    return COPY_SYMBOLS * math.log(COPY_ALPHABET) / (length + 2 * COPY_SYMBOLS)
