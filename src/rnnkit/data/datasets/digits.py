"""The built-in ``digits`` data set: scikit-learn's 1,797 8x8 handwritten digits as sequences.

Each image is read row by row: 8 steps of 8 pixel intensities (0-16), label 0-9. It ships with
scikit-learn, so it needs no download.
"""

from __future__ import annotations

import numpy as np

from ..sequences import Sequences


def load_digits() -> Sequences:
    """All 1,797 digits as (N=1797, T=8, F=8) float32 sequences with integer labels (N,)."""
    from sklearn.datasets import load_digits as sklearn_digits  # 1 s import: only when asked

    bunch = sklearn_digits()
    x = bunch.images.astype(np.float32)  # (N, 8 rows, 8 columns): rows are time steps
    lengths = np.full(len(x), x.shape[1], dtype=np.int64)
    return Sequences(x, lengths, bunch.target.astype(np.int64))
