"""NAB-style evaluation: detection events, event-level precision/recall/F1, the NAB score.

Definitions follow Lavin & Ahmad (2015), "Evaluating Real-time Anomaly Detection Algorithms — the
Numenta Anomaly Benchmark", and numenta/NAB ``nab/sweeper.py``:

* A file of T records has labelled anomaly windows ``[start, end]`` (record indices, inclusive).
  The first ``probation_length(T)`` records are the probationary period: detections there are
  not counted (windows are, whatever they hold).
* A detection at record i inside a window of width ``w = end - start + 1`` sits at the relative
  position ``x = -(end - i + 1) / w`` (−1 at the window's first record, −1/w at its last) and earns
  ``A_TP · σ̃(x) / σ̃(−1)`` with the scaled sigmoid ``σ̃(x) = 2 / (1 + exp(5x)) − 1``, so a
  detection at a window's start earns exactly A_TP. Only the best (= earliest) detection of a
  window counts; later ones in the same window are ignored. A window without one costs −A_FN.
* A detection outside every window is a false positive. It costs ``A_FP · σ̃(y)`` (a negative
  number, since σ̃(y) < 0 for y > 0) where ``y = (i − end_prev) / (w_prev − 1)`` is its distance
  past the previous window's end relative to that window's width (σ̃(y) = −1 when y > 3), and
  the full −A_FP when no window precedes it.
* Raw scores add up over files. The normalised score is ``100 · (raw − null) / (perfect − null)``
  where the null detector (no detections) scores −A_FN per window and the perfect one (a detection
  at every window's start) +A_TP per window; it is computed on sums over a folder or the corpus,
  never per file (a file without windows has perfect = null).

Profiles (the weights are magnitudes; A_FP and A_FN enter with a minus sign): standard
A_TP=1, A_FP=0.11, A_FN=1; reward_low_FP_rate A_FP=0.22; reward_low_FN_rate A_FN=2.

Deviation from NAB: NAB sweeps each detector's score threshold over the whole corpus and reports
the best one per profile — a threshold chosen with the test labels. Here detectors output binary
detections from thresholds fitted on training data, and the score is computed for those.

Event-level counts (not part of NAB): TP = windows holding at least one detection, FN = windows
holding none, FP = detections outside every window; pooled over files by summing the counts.
Both metrics take the same detections: the onsets of detection events (:func:`events_from_flags`).
NAB itself charges every flagged record, so the score of onsets is called here "the NAB score of
event onsets"; :func:`score_file` gives NAB's own when handed every flagged record instead.

Overlap counts (:func:`overlap_counts`) are those of Orion's benchmark (sintel-dev/Orion,
``orion/evaluation/contextual.py``, ``_overlap_segment``, used with ``weighted=False``): a window
overlapped by at least one detected interval is a TP, one overlapped by none a FN, an interval
overlapping no window a FP; Orion pools a data set by summing the counts over its signals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.data.datasets.nab import probation_length
from rnnkit.data.labels import Window


@dataclass(frozen=True)
class Profile:
    """NAB application profile: the weight magnitudes A_TP, A_FP, A_FN."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(x: float) -> float:
    """NAB's ``scaledSigmoid``: 2/(1+exp(5x)) − 1, in (−1, 1); exactly −1 for x > 3."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def events_from_flags(flags: np.ndarray, min_gap: int = 1) -> np.ndarray:
    """Onsets of detection events in a boolean series (T,) -> (E,) record indices.

    A flagged record starts a new event unless another flagged record lies within the previous
    ``min_gap`` records, so runs of flags become one event and runs separated by fewer than
    ``min_gap`` unflagged records merge. The rule only looks back, so it works point by point.
    """
    if min_gap < 1:
        raise ValueError(f"min_gap must be >= 1, got {min_gap}")
    flagged = np.flatnonzero(np.asarray(flags, dtype=bool))
    if flagged.size == 0:
        return flagged
    new = np.ones(flagged.size, dtype=bool)
    new[1:] = np.diff(flagged) > min_gap
    return flagged[new]


def event_intervals(flags: np.ndarray, min_gap: int = 1) -> np.ndarray:
    """The events of :func:`events_from_flags` as intervals: (E, 2) first, last flagged record."""
    flagged = np.flatnonzero(np.asarray(flags, dtype=bool))
    onsets = events_from_flags(flags, min_gap)
    if onsets.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.searchsorted(flagged, onsets)
    ends = np.concatenate((starts[1:] - 1, [flagged.size - 1]))
    return np.stack([onsets, flagged[ends]], axis=1)


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives, with the scores they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """2·TP / (2·TP + FP + FN), 0 when all three are 0."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def overlap_counts(
    intervals: np.ndarray, windows: Sequence[Window], length: int, probation: int = 0
) -> Counts:
    """Orion's overlap-segment counts of detected intervals (E, 2) against windows (inclusive
    record indices): intervals are first cut to the records from ``probation`` on (those left
    empty are dropped), as detections there are not scored."""
    windows = _check_windows(windows, length)
    kept = [
        (max(int(a), probation), int(b)) for a, b in np.asarray(intervals).reshape(-1, 2)
        if b >= probation
    ]  # fmt: skip
    hit = [any(a <= end and start <= b for a, b in kept) for start, end in windows]
    stray = sum(not any(a <= end and start <= b for start, end in windows) for a, b in kept)
    return Counts(tp=sum(hit), fp=stray, fn=len(windows) - sum(hit))


def _check_windows(windows: Sequence[Window], length: int) -> list[Window]:
    checked = []
    for start, end in windows:
        if not 0 <= start <= end < length:
            raise ValueError(
                f"window ({start}, {end}) must satisfy 0 <= start <= end < length={length}"
            )
        if checked and start <= checked[-1][1]:
            raise ValueError(
                f"windows must be sorted and disjoint, got {checked[-1]} then {(start, end)}"
            )
        checked.append((int(start), int(end)))
    return checked


@dataclass(frozen=True)
class FileScore:
    """Scores of one file's detections: event counts and the raw NAB score per profile."""

    tp: int
    fp: int
    fn: int
    windows: int
    raw: dict[str, float]

    @property
    def null(self) -> dict[str, float]:
        return {name: -p.fn * self.windows for name, p in PROFILES.items()}

    @property
    def perfect(self) -> dict[str, float]:
        return {name: p.tp * self.windows for name, p in PROFILES.items()}


def score_file(
    detections: Iterable[int], windows: Sequence[Window], length: int, probation: int | None = None
) -> FileScore:
    """Score detections (record indices) against windows in a file of ``length`` records.

    ``probation`` defaults to :func:`probation_length`; detections before it are dropped.
    """
    windows = _check_windows(windows, length)
    probation = probation_length(length) if probation is None else probation
    dets = sorted({int(i) for i in detections if probation <= int(i) < length})
    starts = np.array([s for s, _ in windows], dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    best: list[float | None] = [None] * len(windows)  # the first detection's weight per window
    fp_costs: list[float] = []  # σ̃ of each false positive (−1 ... 0)
    for i in dets:
        k = int(np.searchsorted(starts, i, side="right")) - 1  # last window starting at or before i
        if k >= 0 and i <= windows[k][1]:
            if best[k] is None:
                start, end = windows[k]
                best[k] = scaled_sigmoid(-(end - i + 1) / (end - start + 1)) / max_tp
        elif k < 0:
            fp_costs.append(-1.0)
        else:
            start, end = windows[k]
            width = end - start + 1
            fp_costs.append(scaled_sigmoid((i - end) / (width - 1)) if width > 1 else -1.0)
    tp = sum(b is not None for b in best)
    raw = {}
    for name, p in PROFILES.items():
        window_part = sum(p.tp * b if b is not None else -p.fn for b in best)
        raw[name] = window_part + p.fp * sum(fp_costs)
    return FileScore(tp=tp, fp=len(fp_costs), fn=len(windows) - tp, windows=len(windows), raw=raw)


@dataclass(frozen=True)
class Summary:
    """Pooled scores over several files: counts, precision/recall/F1, NAB raw and normalised."""

    files: int
    tp: int
    fp: int
    fn: int
    windows: int
    raw: dict[str, float]
    nab: dict[str, float]  # normalised, NaN when there are no windows

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "windows": self.windows,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "nab_raw": dict(self.raw),
            "nab": dict(self.nab),
        }


def summarise(scores: Iterable[FileScore]) -> Summary:
    """Pool file scores: sum the counts and raw scores, then normalise the NAB score."""
    scores = list(scores)
    windows = sum(s.windows for s in scores)
    raw = {name: sum(s.raw[name] for s in scores) for name in PROFILES}
    nab = {}
    for name, p in PROFILES.items():
        null, perfect = -p.fn * windows, p.tp * windows
        nab[name] = 100.0 * (raw[name] - null) / (perfect - null) if windows else float("nan")
    return Summary(
        files=len(scores),
        tp=sum(s.tp for s in scores),
        fp=sum(s.fp for s in scores),
        fn=sum(s.fn for s in scores),
        windows=windows,
        raw=raw,
        nab=nab,
    )
