"""Thresholds that turn anomaly scores into flags, fitted on training scores only.

* :class:`QuantileThreshold` — the q-quantile of the training scores (0.99 is customary).
* :class:`SigmaThreshold` — mean + k·std of the training scores.
* :class:`DynamicThreshold` — the non-parametric dynamic threshold of Hundman et al. (2018),
  "Detecting Spacecraft Anomalies Using LSTMs and Nonparametric Dynamic Thresholding" (KDD),
  run as a stream: the threshold in force for a block of records is chosen from the scores of
  the records before it only.
* :class:`LikelihoodThreshold` — the anomaly likelihood of Ahmad et al. (2017), "Unsupervised
  real-time anomaly detection for streaming data" (Neurocomputing; NAB's HTM detector): a
  short-term mean of the scores against the distribution of the recent ones.
* :class:`~.robust.RobustThreshold` (:mod:`.robust`) — scale-free: the log scores, smoothed,
  against median + k·MAD of the recent ones (Hampel's outlier rule, run as a stream), with
  flagged records leaving the history for a while and lasting changes becoming the new normal.

The quantile, sigma and dynamic thresholds may be multiplied by ``margin`` (≥ 1 raises it). A
threshold's ``levels(scores)`` gives the value in force at each record, causally: the flags of
records up to t never depend on scores after t, so a series can be scored point by point. NaN
scores (records before a detector has a full window) are never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from .robust import RobustThreshold
from .smoothing import finite_scores as _finite


def _consecutive_runs(index: np.ndarray) -> list[tuple[int, int]]:
    """Sorted unique indices -> (first, last) of each run of consecutive values."""
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) > 1)
    firsts = np.concatenate(([index[0]], index[breaks + 1]))
    lasts = np.concatenate((index[breaks], [index[-1]]))
    return list(zip(firsts.tolist(), lasts.tolist()))


def hundman_epsilon(
    scores: np.ndarray,
    z_values: np.ndarray | None = None,
    buffer: int = 0,
    max_sequences: int = 5,
) -> float:
    """Hundman et al.'s threshold ε = μ + z·σ over a window of (smoothed, non-negative) scores.

    z is the one maximising ``(Δμ/μ + Δσ/σ) / (|e_a| + |E_seq|²)``, where Δμ and Δσ are the drops
    of mean and std when the scores above ε are removed, e_a the records above ε (each widened
    by ``buffer`` records on both sides) and E_seq their runs. As in their ``telemanom`` code,
    candidates flagging more than ``max_sequences`` runs or half the records are skipped, and
    ε = μ + max(z)·σ when no candidate qualifies.
    """
    e = np.asarray(scores, dtype=np.float64)
    e = e[np.isfinite(e)]
    z_values = np.arange(2.5, 12.0, 0.5) if z_values is None else np.asarray(z_values)
    mean, std = float(e.mean()), float(e.std())
    epsilon = mean + float(z_values.max()) * std
    if std == 0 or mean == 0:
        return epsilon
    best = -np.inf
    for z in z_values:
        candidate = mean + z * std
        above = np.flatnonzero(e >= candidate)
        if above.size == 0:
            continue
        if buffer:
            widened = (above[:, None] + np.arange(-buffer, buffer + 1)[None, :]).ravel()
            above = np.unique(widened[(widened >= 0) & (widened < e.size)])
        runs = [r for r in _consecutive_runs(above) if r[1] > r[0]]
        below = e[e < candidate]
        gain = (mean - below.mean()) / abs(mean) + (std - below.std()) / std
        score = gain / (len(runs) ** 2 + above.size)
        if score >= best and len(runs) <= max_sequences and above.size < 0.5 * e.size:
            best, epsilon = score, candidate
    return epsilon


@dataclass
class QuantileThreshold:
    """Flag scores above the ``q``-quantile of the training scores (times ``margin``)."""

    q: float = 0.99
    margin: float = 1.0
    value: float = float("nan")
    kind: str = field(default="quantile", init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.q <= 1.0:
            raise ValueError(f"q must be in (0, 1], got {self.q}")

    def fit(self, train_scores: np.ndarray) -> QuantileThreshold:
        self.value = float(np.quantile(_finite(train_scores, "quantile threshold"), self.q))
        self.value *= self.margin
        return self

    def levels(self, scores: np.ndarray) -> np.ndarray:
        return np.full(len(scores), self.value)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return np.nan_to_num(np.asarray(scores, np.float64), nan=-np.inf) > self.levels(scores)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "q": self.q, "margin": self.margin, "value": self.value}


@dataclass
class SigmaThreshold:
    """Flag scores above mean + ``k``·std of the training scores (times ``margin``)."""

    k: float = 3.0
    margin: float = 1.0
    value: float = float("nan")
    kind: str = field(default="sigma", init=False)

    def fit(self, train_scores: np.ndarray) -> SigmaThreshold:
        e = _finite(train_scores, "k-sigma threshold")
        self.value = float(e.mean() + self.k * e.std()) * self.margin
        return self

    levels = QuantileThreshold.levels
    flags = QuantileThreshold.flags

    def to_dict(self) -> dict:
        return {"kind": self.kind, "k": self.k, "margin": self.margin, "value": self.value}


@dataclass
class DynamicThreshold:
    """Hundman et al.'s non-parametric dynamic threshold, streaming.

    Records are taken in blocks of ``step``. The threshold for a block is
    :func:`hundman_epsilon` (times ``margin``) of the last ``history`` scores before the block —
    the training scores, then the stream's own, leaving out records already flagged when
    ``skip_flagged`` (so one anomaly does not hide the next). A record above it is flagged only if
    it also beats the largest score below the threshold in that history by the fraction ``p``
    (their pruning step, applied point by point; p = 0.13 in their paper).
    """

    history: int = 2000
    step: int = 100
    p: float = 0.13
    margin: float = 1.0
    z_max: float = 12.0
    skip_flagged: bool = True
    train_scores: list[float] = field(default_factory=list)
    kind: str = field(default="dynamic", init=False)

    def fit(self, train_scores: np.ndarray) -> DynamicThreshold:
        self.train_scores = _finite(train_scores, "dynamic threshold")[-self.history :].tolist()
        return self

    def run(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stream ``scores`` (T,) through the threshold: (levels (T,), flags (T,) bool)."""
        scores = np.asarray(scores, dtype=np.float64)
        T = len(scores)
        levels, flags = np.empty(T), np.zeros(T, dtype=bool)
        seen = np.concatenate((np.asarray(self.train_scores), scores))
        usable = np.isfinite(seen)
        offset = len(self.train_scores)
        z_values = np.arange(2.5, self.z_max, 0.5)
        for start in range(0, T, self.step):
            stop = min(start + self.step, T)
            lo, hi = offset + start, offset + stop
            past = seen[:lo][usable[:lo]][-self.history :]
            epsilon = hundman_epsilon(past, z_values) * self.margin if past.size > 1 else np.inf
            normal_max = past[past < epsilon].max(initial=-np.inf)
            block = np.nan_to_num(scores[start:stop], nan=-np.inf)
            keep = (block - normal_max) >= self.p * np.abs(block)
            levels[start:stop] = epsilon
            flags[start:stop] = (block > epsilon) & keep
            if self.skip_flagged:
                usable[lo:hi] &= ~flags[start:stop]
        return levels, flags

    def levels(self, scores: np.ndarray) -> np.ndarray:
        return self.run(scores)[0]

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return self.run(scores)[1]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "history": self.history,
            "step": self.step,
            "p": self.p,
            "margin": self.margin,
            "z_max": self.z_max,
            "skip_flagged": self.skip_flagged,
            "train_scores": list(self.train_scores),
        }


@dataclass
class LikelihoodThreshold:
    """Ahmad et al.'s anomaly likelihood, streaming.

    At record t, with μ_t and σ_t the mean and std of the scores of the last ``history`` records
    up to t (the training scores first, then the stream's own) and m_t the mean over the last
    ``short`` records, the likelihood is ``1 − Q((m_t − μ_t) / σ_t)`` (Q: the standard normal
    tail). A record is
    flagged when ``Q < epsilon``, i.e. when ``m_t > μ_t + z σ_t`` with ``z = Q⁻¹(epsilon)``;
    that level is what :meth:`levels` reports. The paper uses a long window of 8640 records,
    a short one of 10 and ε = 1e-5. Only finite scores count; a NaN score is never flagged.
    """

    history: int = 3000
    short: int = 10
    epsilon: float = 1e-5
    train_scores: list[float] = field(default_factory=list)
    kind: str = field(default="likelihood", init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.epsilon < 0.5:
            raise ValueError(f"epsilon must be in (0, 0.5), got {self.epsilon}")
        if self.short < 1 or self.history < 2:
            raise ValueError(f"need short >= 1 and history >= 2, got {self.short}, {self.history}")

    def fit(self, train_scores: np.ndarray) -> LikelihoodThreshold:
        self.train_scores = _finite(train_scores, "likelihood threshold")[-self.history :].tolist()
        return self

    def run(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stream ``scores`` (T,) through the threshold: (levels (T,), flags (T,) bool)."""
        scores = np.asarray(scores, dtype=np.float64)
        seen = np.concatenate((np.asarray(self.train_scores), scores))
        ok = np.isfinite(seen)
        x = np.where(ok, seen, 0.0)
        # running sums over the finite scores; a window's count, sum, sum of squares by difference
        count, total, squares = (
            np.concatenate(([0.0], np.cumsum(v))) for v in (ok.astype(np.float64), x, x * x)
        )
        end = np.arange(len(self.train_scores), len(seen)) + 1  # the window of record t ends at t
        first_long, first_short = np.maximum(end - self.history, 0), np.maximum(end - self.short, 0)
        n = count[end] - count[first_long]
        mean = (total[end] - total[first_long]) / np.maximum(n, 1)
        var = (squares[end] - squares[first_long]) / np.maximum(n, 1) - mean**2
        std = np.sqrt(np.maximum(var, 0.0))
        n_short = count[end] - count[first_short]
        recent = (total[end] - total[first_short]) / np.maximum(n_short, 1)
        levels = mean + NormalDist().inv_cdf(1.0 - self.epsilon) * std
        flags = np.isfinite(scores) & (n >= 2) & (recent > levels)
        return levels, flags

    levels = DynamicThreshold.levels
    flags = DynamicThreshold.flags

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "history": self.history,
            "short": self.short,
            "epsilon": self.epsilon,
            "train_scores": list(self.train_scores),
        }


Threshold = (
    QuantileThreshold | SigmaThreshold | DynamicThreshold | LikelihoodThreshold | RobustThreshold
)
_KINDS = {
    "quantile": QuantileThreshold,
    "sigma": SigmaThreshold,
    "dynamic": DynamicThreshold,
    "likelihood": LikelihoodThreshold,
    "robust": RobustThreshold,
}


def make_threshold(kind: str, **options) -> Threshold:
    """A threshold by name: ``quantile`` (q), ``sigma`` (k), ``dynamic`` (history, step, p),
    ``likelihood`` (history, short, epsilon) or ``robust`` (k, history, step, span)."""

    if kind not in _KINDS:
        raise ValueError(f"threshold kind must be one of {sorted(_KINDS)}, got {kind!r}")
    return _KINDS[kind](**options)


def threshold_from_dict(state: dict) -> Threshold:
    """Rebuild a fitted threshold from its ``to_dict()``."""
    state = dict(state)
    return make_threshold(state.pop("kind"), **state)
