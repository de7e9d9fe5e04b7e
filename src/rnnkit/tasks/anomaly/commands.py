"""``rnnkit anomaly detect`` and ``rnnkit anomaly evaluate``: a trained detector on a series.

``detect`` scores a CSV point by point and writes timestamps, values, scores, the threshold in
force, flags and event onsets; ``evaluate`` scores a labelled series (NAB-style events,
precision/recall/F1 and the NAB score) and prints JSON.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rnnkit.console import to_json
from rnnkit.data.datasets.nab import probation_length
from rnnkit.data.labels import read_windows
from rnnkit.data.timeseries import TimeSeries
from rnnkit.train.rundir import write_json

from .detector import Detection, Detector
from .nab import events_from_flags, score_file, summarise
from .task import load_detector, read_data


def read_run_series(detector: Detector, path: Path | None) -> TimeSeries:
    """A CSV read the way the run's training file was (its columns and reading policies)."""
    d = detector.config.data
    series = read_data(d, path)
    missing = [c for c in detector.columns if c not in series.columns]
    if missing:
        raise ValueError(f"{series.source}: no column(s) {missing}; the detector needs them")
    return series


def detect(run: Path, input: Path, output: Path | None = None, plot: Path | None = None) -> None:
    """Score a CSV with a trained detector; write timestamps, values, scores, flags, events.

    Args:
        run: run directory written by `rnnkit anomaly train`.
        input: CSV to score (the run's columns).
        output: CSV of scores and flags [default: RUN/detections.csv].
        plot: also save a figure of the scored series here.
    """
    detector = load_detector(run)
    series = read_run_series(detector, input)
    found = detector.detect(series)
    target = output or Path(run) / "detections.csv"
    write_detections(target, series, found)
    if plot is not None:
        from .plots import plot_detection

        plot_detection(plot, series, found, title=Path(input).name)
    print(
        f"{len(found.events)} event(s), {int(found.flags.sum())} flagged record(s); wrote {target}"
    )


def evaluate(
    run: Path,
    data: Path | None = None,
    labels: Path | None = None,
    key: str | None = None,
    probation: int | None = None,
    plot: Path | None = None,
) -> None:
    """Score a labelled series: event precision/recall/F1 and the NAB score; print JSON.

    Events are formed from the flags after the probationary period (JSON `events` lists every
    event onset the detector made).

    Args:
        run: run directory written by `rnnkit anomaly train`.
        data: labelled CSV [default: the run's training file].
        labels: label file [default: the run's data.labels].
        key: the series' key in a JSON label file.
        probation: records not scored [default: the run's training records for its own file,
            else NAB's probationary period].
        plot: also save a figure with the labelled windows here.
    """
    detector = load_detector(run)
    d = detector.config.data
    label_file = labels or (Path(d.labels) if d.labels else None)
    if label_file is None:
        raise ValueError("no labels: give --labels FILE (or train with --data.labels FILE)")
    series = read_run_series(detector, data)
    windows = read_windows(label_file, series, key or d.label_key or None)
    own = data is None or Path(data).resolve() == Path(d.path).resolve()
    if probation is None:
        probation = detector.train_rows if own else probation_length(len(series))
    if probation < 0:
        raise ValueError(f"--probation must be >= 0, got {probation}")
    found = detector.detect(series)
    # flags in the probationary period are not scored, so they must not merge with later ones
    scored = found.flags.copy()
    scored[:probation] = False
    events = events_from_flags(scored, detector.config.detect.gap_for(detector.train_rows))
    result = summarise([score_file(events, windows, len(series), probation)]).as_dict()
    result.update(
        {"series": series.source, "probation": probation, "events": found.events.tolist()}
    )
    write_json(Path(run) / "evaluation.json", result)
    if plot is not None:
        from .plots import plot_detection

        plot_detection(plot, series, found, windows, probation, Path(series.source).name)
    print(to_json(result))


def write_detections(path: Path, series: TimeSeries, found: Detection) -> None:
    """CSV: timestamp, the value columns, score, threshold, flag (0/1), event (1 at onsets)."""
    onsets = np.zeros(len(series), dtype=int)
    onsets[found.events] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    values, stamps = series.values(), series.timestamps
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", *series.columns, "score", "threshold", "flag", "event"])
        for i in range(len(series)):
            stamp = np.datetime_as_string(stamps[i], unit="s").replace("T", " ")
            writer.writerow(
                [
                    stamp,
                    *(repr(float(v)) for v in values[i]),
                    _num(found.scores[i]),
                    _num(found.levels[i]),
                    int(found.flags[i]),
                    onsets[i],
                ]
            )
    tmp.replace(path)


def _num(value: float) -> str:
    return "" if not np.isfinite(value) else repr(float(value))
