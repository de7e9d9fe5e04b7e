"""The robust threshold: Hampel's rule on log scores, run as a stream, that keeps up with change.

A frozen network's errors do not always return to their calibration level: after a level shift
or a change of rhythm in the series they can settle higher for good. A threshold that only
learns from unflagged records then never catches up and flags everything from the change on.
Two rules bound that here:

* **rejoin** — a flagged record is left out of the history only for ``rejoin`` records, long
  enough that one anomaly does not raise the threshold over the records right after it;
* **persist** — a change that flags at least half of the last ``persist`` records is no longer
  an anomaly but the new normal: the history restarts at its first flagged record.

With ``persist`` = C a lasting step of the scores, however large, is flagged for about ⌈C/2⌉
records, then the threshold follows the new level (tested on a level shift: the flagged share
stays under 1% of the records, against about half of them without these rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .smoothing import finite_scores, smooth


@dataclass
class RobustThreshold:
    """Median + k·MAD of the recent log scores, streaming; invariant to the scores' scale.

    With ``u_t`` the EWMA (span ``span``) of ``log s_t``, records are taken in blocks of
    ``step``. For the block starting at b, with 𝓗_b the last ``history`` usable values of u
    before b (the calibration scores first, then the stream's own)::

        m_b = median(𝓗_b),   MAD_b = median(|𝓗_b − m_b|),   θ_b = m_b + k · 1.4826 · MAD_b,

    and record t of the block is flagged when ``u_t > θ_b`` (1.4826·MAD estimates σ for normal
    data, so k reads as standard deviations, as in Hampel's identifier). Multiplying the scores
    by any constant shifts u, m and θ and nothing else, so the rule needs no per-series scale.

    Usable values: the finite ones since the history's start, except, with ``skip_flagged``,
    flagged records scored fewer than ``rejoin`` records before b (``rejoin`` 0: never usable
    again). With ``persist`` = C > 0, when at least ⌈C/2⌉ of the last C records are flagged
    (counting only records after the last restart), the history restarts at the first flagged
    one of them and every record from there on is usable: the change is the new normal. The
    block is cut at that record and the next one starts with the new history.

    :meth:`levels` reports ``exp(θ)``, the level in the scores' own units. Scores ≤ 0 count as
    ``tiny``; NaN scores are never flagged. ``rejoin`` = ``persist`` = 0 is the rule without
    either adaptation.
    """

    k: float = 4.0
    history: int = 6000
    step: int = 100
    span: int = 5
    skip_flagged: bool = True
    rejoin: int = 0
    persist: int = 0
    tiny: float = 1e-12
    train_scores: list[float] = field(default_factory=list)
    kind: str = field(default="robust", init=False)

    def __post_init__(self) -> None:
        if self.k <= 0 or self.history < 2 or self.step < 1 or self.span < 1:
            raise ValueError(
                f"need k > 0, history >= 2, step >= 1, span >= 1, got k={self.k}, "
                f"history={self.history}, step={self.step}, span={self.span}"
            )
        if self.rejoin < 0 or self.persist < 0 or 0 < self.persist < 4:
            raise ValueError(
                f"need rejoin >= 0 and persist 0 or >= 4, got rejoin={self.rejoin}, "
                f"persist={self.persist}"
            )

    def _log(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        return np.log(np.where(np.isfinite(scores), np.maximum(scores, self.tiny), np.nan))

    def fit(self, train_scores: np.ndarray) -> RobustThreshold:
        logs = smooth(self._log(finite_scores(train_scores, "robust threshold")), self.span)
        self.train_scores = logs[-self.history :].tolist()
        return self

    def _level(self, seen: np.ndarray, usable: np.ndarray, held: np.ndarray, lo: int) -> float:
        """θ from the usable values of ``seen[:lo]`` (held: flagged records still left out)."""
        ok = usable[:lo].copy()
        if self.skip_flagged:
            recent = max(lo - self.rejoin, 0) if self.rejoin else 0
            ok[recent:] &= ~held[recent:lo]
        past = seen[:lo][ok][-self.history :]
        if past.size < 2:
            return np.inf
        median = float(np.median(past))
        return median + self.k * 1.4826 * float(np.median(np.abs(past - median)))

    def _lasting(self, flags: np.ndarray, hit: np.ndarray, start: int, since: int) -> int:
        """Index in ``hit`` (a block's flags, from stream record ``start``) of the first record
        at which ⌈C/2⌉ of the last C records from ``since`` on are flagged, or −1."""
        C = self.persist
        first = max(start - C + 1, since)
        window = np.concatenate((flags[first:start], hit)).astype(np.int64)
        total = np.concatenate(([0], np.cumsum(window)))
        ends = np.arange(start - first, len(window)) + 1  # window positions of the block's records
        counts = total[ends] - total[np.maximum(ends - C, 0)]
        found = np.flatnonzero(counts >= (C + 1) // 2)
        return int(found[0]) if found.size else -1

    def run(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stream ``scores`` (T,) through the threshold: (levels (T,), flags (T,) bool)."""
        # the EWMA continues from the calibration scores' last value, as a stream would
        u = self._log(scores)
        if self.span > 1 and self.train_scores:
            u = smooth(np.concatenate(([self.train_scores[-1]], u)), self.span)[1:]
        T, offset = len(u), len(self.train_scores)
        seen = np.concatenate((np.asarray(self.train_scores, dtype=np.float64), u))
        usable = np.isfinite(seen)  # cleared before the history's start after a restart
        held = np.zeros(len(seen), dtype=bool)  # flagged records, left out while recent
        levels, flags = np.empty(T), np.zeros(T, dtype=bool)
        start, since = 0, 0  # since: the first stream record persistence counts
        while start < T:
            stop = min(start + self.step, T)
            level = self._level(seen, usable, held, offset + start)
            hit = np.nan_to_num(u[start:stop], nan=-np.inf) > level
            cut = self._lasting(flags, hit, start, since) if self.persist else -1
            if cut >= 0:
                stop, hit = start + cut + 1, hit[: cut + 1]
            flags[start:stop] = hit
            levels[start:stop] = np.exp(level) if np.isfinite(level) else np.inf
            held[offset + start : offset + stop] = hit
            if cut >= 0:  # the change is the new normal: the history restarts at its onset
                recent = flags[max(stop - self.persist, since) : stop]
                onset = stop - len(recent) + int(np.argmax(recent))
                usable[: offset + onset] = False
                held[offset + onset : offset + stop] = False
                since = stop
            start = stop
        return levels, flags

    def levels(self, scores: np.ndarray) -> np.ndarray:
        return self.run(scores)[0]

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return self.run(scores)[1]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "k": self.k,
            "history": self.history,
            "step": self.step,
            "span": self.span,
            "skip_flagged": self.skip_flagged,
            "rejoin": self.rejoin,
            "persist": self.persist,
            "tiny": self.tiny,
            "train_scores": list(self.train_scores),
        }
