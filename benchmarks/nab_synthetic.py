"""NAB-like synthetic series with known anomalies: a check beyond ../shared, never used to choose.

Twelve series, drawn from one fixed seed (:data:`SEED`): three sampling rates (1 minute,
5 minutes, 1 hour) at three lengths (15,000, 6,000 and 2,000 records), each with one kind of
anomaly — ``level`` (the series steps up or down by 0.4 of its level, for good), ``spike`` (1–3
records jump by 0.8–1.2 of the level), ``frequency`` (the daily cycle runs three times faster
from then on) — or ``none``. The normal part of a series of level b (log-uniform in 1 … 1000,
so units differ) with a daily cycle of P records (1,440, 288 or 24) is::

    x_t = b · (1 + 0.3 · sin(2π t / P + φ) + n_t),   n_t = 0.7 n_{t−1} + ε_t,  ε_t ~ N(0, 0.04²)

Anomalies start between 25% and 90% of the series (after NAB's probationary period), at least
15% of the series apart. Labels are NAB's: the anomaly times become windows of 10% of the series
divided by the number of anomalies, centred on each
(:func:`rnnkit.data.labels.windows_from_points`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.data.datasets.nab import LabelledSeries, probation_length, read_nab_file
from rnnkit.data.labels import read_windows

SEED = 20261201
FOLDER = "synthetic"
RATES = {"1min": (15_000, 1440), "5min": (6_000, 288), "1h": (2_000, 24)}  # length, period
KINDS = {"level": 1, "spike": 3, "frequency": 1, "none": 0}  # anomalies per series (spike: ≤ 3)


def anomaly_starts(rng: np.random.Generator, length: int, count: int) -> list[int]:
    """``count`` record indices in [0.25 T, 0.9 T), at least 0.15 T apart."""
    while True:
        starts = np.sort(rng.integers(int(0.25 * length), int(0.9 * length), count))
        if count < 2 or np.diff(starts).min() >= 0.15 * length:
            return starts.tolist()


def make_series(rng: np.random.Generator, kind: str, length: int, period: int):
    """(values (T,), anomaly starts) of one synthetic series."""
    t = np.arange(length)
    level = 10 ** rng.uniform(0, 3)
    phase = rng.uniform(0, 2 * np.pi)
    noise = np.zeros(length)
    eps = rng.normal(0.0, 0.04, length)
    for i in range(1, length):
        noise[i] = 0.7 * noise[i - 1] + eps[i]
    cycle = 2 * np.pi * t / period + phase
    starts = anomaly_starts(rng, length, rng.integers(1, KINDS[kind] + 1) if KINDS[kind] else 0)
    shape = np.zeros(length)
    for s in starts:
        if kind == "level":
            shape[s:] += rng.choice([-1, 1]) * 0.4
        elif kind == "spike":
            width = rng.integers(1, 4)
            shape[s : s + width] += rng.choice([-1, 1]) * rng.uniform(0.8, 1.2)
        elif kind == "frequency":
            cycle[s:] = cycle[s] + 3 * 2 * np.pi * (t[s:] - s) / period  # continuous phase
    values = level * (1 + 0.3 * np.sin(cycle) + noise + shape)
    return values, starts


def synthetic_suite(out: Path) -> list[LabelledSeries]:
    """Write the suite's CSVs and NAB-style labels under ``out`` and read them back labelled."""
    rng = np.random.default_rng(SEED)
    labels, made = {}, []
    for rate, (length, period) in RATES.items():
        for kind in KINDS:
            values, starts = make_series(rng, kind, length, period)
            stamps = pd.date_range("2025-03-01", periods=length, freq=rate)
            key = f"{FOLDER}/{kind}_{rate}_{length}.csv"
            path = out / key
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(path, index=False)
            labels[key] = [str(stamps[s]) for s in starts]
            made.append((key, path))
    label_file = out / FOLDER / "labels.json"
    label_file.write_text(json.dumps(labels, indent=1) + "\n")
    found = []
    for key, path in made:
        series = read_nab_file(path)
        windows = read_windows(label_file, series, key=key)
        found.append(LabelledSeries(key, series, windows, probation_length(len(series))))
    return found


def kind_of(key: str) -> str:
    """The anomaly kind of a suite key (``synthetic/level_5min_6000.csv`` -> ``level``)."""
    return Path(key).stem.split("_")[0]
