"""NAB benchmark: every rnnkit anomaly detector on every series of the NAB folders present.

For each series the detector learns from NAB's probationary period only (the first 15% of the
records, at most 750), through ``rnnkit.train``, then scores the whole series point by point.
Detections in the probationary period are not counted. The script prints, per folder and pooled,
event-level precision/recall/F1 and the normalised NAB score (standard profile; the JSON also has
reward_low_FP_rate and reward_low_FN_rate), beside a null detector (no detections) and two
random ones, and the wall time; it writes everything to JSON.

Honest thresholds: each detector's threshold is fitted on its own series' calibration scores
(the last 30% of the probationary period), never on labels. With ``--tune-on FOLDER`` the
detection rule (threshold kind and margin, smoothing, event gap) is chosen per detector from a
small grid by the pooled event F1 *of that folder only*, then applied unchanged to every folder;
the table marks the tuning folder and adds a "pooled held-out" row over the other folders. The
JSON also records the process CPU time and the load average (the wall time on a shared machine
is mostly waiting).

Usage::

    python benchmarks/nab.py                               # defaults, ../shared/datasets/nab
    python benchmarks/nab.py --tune-on realKnownCause --train.epochs 20   # docs/anomaly.md
    python benchmarks/nab.py --methods autoencoder --folders artificialWithAnomaly --train.epochs 5

Any ``--section.key value`` of ``rnnkit anomaly train`` (``--model.window 64``,
``--detect.margin 2``, ``--train.epochs 20``) applies to every detector.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import parse_flags, resolve, to_dict
from rnnkit.data.datasets.nab import FOLDERS as NAB_FOLDERS
from rnnkit.data.datasets.nab import load_nab
from rnnkit.tasks.anomaly import AnomalyConfig, fit_detector, load_detector
from rnnkit.tasks.anomaly.nab import events_from_flags, score_file, summarise

METHODS = ("autoencoder", "forecast", "ocsvm", "iforest")
REPO = Path(__file__).resolve().parents[1]

# The detection rules --tune-on chooses from, one grid per threshold kind (everything else stays
# at the config's values): 64 dynamic-threshold rules and 108 anomaly-likelihood rules.
GRIDS = [
    {
        "threshold": ["dynamic"],
        "margin": [1.0, 1.25, 1.5, 2.0],
        "skip_flagged": [False, True],
        "history": [3000, 8000],
        "smoothing": [1, 5],
        "min_gap": [200, 500],
    },
    {
        "threshold": ["likelihood"],
        "history": [3000, 8000],
        "short": [5, 10, 20],
        "epsilon": [1e-4, 1e-5, 1e-6],
        "smoothing": [1, 10],
        "min_gap": [200, 500, 1000],
    },
]


def grid_rules(base_rule):
    """Every rule of :data:`GRIDS`, as ``base_rule`` with the grid's values."""
    for grid in GRIDS:
        for values in itertools.product(*grid.values()):
            yield replace(base_rule, **dict(zip(grid, values)))


def default_data_dir() -> str:
    if os.environ.get("RNNKIT_DATA"):
        return os.environ["RNNKIT_DATA"]
    return str(REPO.parent / "shared" / "datasets")


def train_all(method: str, files, base: AnomalyConfig, runs: Path, reuse: bool) -> dict:
    """Train one detector per file; return key -> {"detector", "raw", "seconds"} or {"error"}."""
    out = {}
    for f in files:
        run = runs / method / f.key.replace("/", "__").removesuffix(".csv")
        started = time.perf_counter()
        try:
            if reuse and (run / "metrics.json").is_file():
                detector = load_detector(run)
            else:
                if run.exists():
                    shutil.rmtree(run)
                config = replace(
                    base,
                    data=replace(
                        base.data,
                        path=str(f.series.source),
                        order="keep",
                        duplicates="keep",
                        train_rows=f.probation,
                    ),
                    model=replace(base.model, method=method),
                )
                detector = fit_detector(config, run)
            raw = detector.raw_scores(f.series.values())
        except ValueError as error:  # e.g. art_flatline: constant over its training records
            out[f.key] = {"error": str(error), "seconds": time.perf_counter() - started}
            print(f"  {method:11s} {f.key:58s} skipped: {str(error)[:90]}", flush=True)
            continue
        seconds = time.perf_counter() - started
        out[f.key] = {"detector": detector, "raw": raw, "seconds": seconds}
        print(f"  {method:11s} {f.key:58s} {seconds:6.1f} s", flush=True)
    return out


def events_of(entry: dict, rule=None) -> np.ndarray:
    """Event onsets of one trained detector, with its own rule or another one."""
    if "error" in entry:
        return np.array([], dtype=int)  # not scored: counts as the null detector
    detector = entry["detector"] if rule is None else entry["detector"].with_rule(rule)
    return detector.flag(entry["raw"]).events


def scores_by_file(files, events: dict) -> dict:
    return {f.key: score_file(events[f.key], f.windows, len(f.series), f.probation) for f in files}


def table(files, per_file: dict, folders, tuned_on: str | None = None) -> dict:
    """Rows per folder, pooled over all files, and (with a tuning folder) pooled over the
    held-out folders only."""
    rows = {}
    for folder in folders:
        rows[folder] = summarise(per_file[f.key] for f in files if f.folder == folder).as_dict()
    rows["pooled"] = summarise(per_file.values()).as_dict()
    if tuned_on:
        rows["pooled held-out"] = summarise(
            per_file[f.key] for f in files if f.folder != tuned_on
        ).as_dict()
    return rows


def tune_rule(entries: dict, files, folder: str, base_rule) -> tuple:
    """The grid rule with the best pooled event F1 on ``folder`` (ties: higher NAB score)."""
    tuning = [f for f in files if f.folder == folder]
    best = None
    for rule in grid_rules(base_rule):
        per_file = scores_by_file(tuning, {f.key: events_of(entries[f.key], rule) for f in tuning})
        s = summarise(per_file.values())
        key = (s.f1, s.nab["standard"])
        if best is None or key > best[0]:
            best = (key, rule)
    return best[1], best[0]


def random_events(files, rate: float | None, counts: dict | None, seed: int) -> dict:
    """Uniformly random detections after the probationary period: each record with
    probability ``rate``, or exactly ``counts[key]`` events per file."""
    rng = np.random.default_rng(seed)
    out = {}
    for f in files:
        n = len(f.series) - f.probation
        if counts is not None:
            picks = np.sort(rng.choice(n, size=min(counts[f.key], n), replace=False))
            out[f.key] = picks + f.probation
        else:
            flags = np.zeros(len(f.series), dtype=bool)
            flags[f.probation :] = rng.random(n) < rate
            out[f.key] = flags
    return out


def mean_table(tables: list[dict]) -> dict:
    """Average the numbers of several tables (the random detectors' seeds)."""
    out = {}
    for row in tables[0]:
        out[row] = {}
        for k, v in tables[0][row].items():
            if isinstance(v, dict):
                out[row][k] = {p: float(np.mean([t[row][k][p] for t in tables])) for p in v}
            else:
                out[row][k] = float(np.mean([t[row][k] for t in tables]))
    return out


def print_table(results: dict, rows: list[str], tuned_on: str | None) -> None:
    names = list(results)
    print()
    header = f"{'folder':24s} {'windows':>7s} " + " ".join(f"{n[:20]:>20s}" for n in names)
    print("event F1 / NAB standard score (precision, recall)")
    print(header)
    for row in rows:
        mark = " (tuning)" if row == tuned_on else ""
        first = results[names[0]]["table"][row]
        cells = []
        for n in names:
            r = results[n]["table"][row]
            nab = r["nab"]["standard"]
            nab_text = "   -" if nab != nab else f"{nab:5.1f}"  # NaN: no windows
            cells.append(f"{r['f1']:.3f}/{nab_text} ({r['precision']:.2f},{r['recall']:.2f})")
        print(f"{row + mark:24s} {first['windows']:7.0f} " + " ".join(f"{c:>20s}" for c in cells))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", default=default_data_dir(), help="folder holding nab/ (or NAB itself)"
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--folders", default=",".join(NAB_FOLDERS))
    parser.add_argument(
        "--tune-on", default=None, help="choose each detector's rule on this folder"
    )
    parser.add_argument(
        "--runs", default=None, help="keep run directories here (default: a temp dir)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="load finished runs from --runs instead of training"
    )
    parser.add_argument("--json", default="runs/bench/nab.json", help="where to write the results")
    parser.add_argument(
        "--random-rate", type=float, default=0.001, help="random detector: flags per record"
    )
    parser.add_argument(
        "--seeds", type=int, default=10, help="seeds the random detectors average over"
    )
    args, extra = parser.parse_known_args(argv)

    base = resolve(AnomalyConfig, flags=parse_flags(extra))
    base = replace(base, train=replace(base.train, progress=False))
    torch.set_num_threads(base.train.threads or torch.get_num_threads())
    folders = [f for f in args.folders.split(",") if f]
    methods = [m for m in args.methods.split(",") if m]
    files = load_nab(args.data_dir, folders)
    print(f"{len(files)} series, {sum(len(f.windows) for f in files)} windows, folders {folders}")
    if args.tune_on and args.tune_on not in folders:
        sys.exit(f"--tune-on {args.tune_on} is not among --folders {folders}")

    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="rnnkit-nab-"))
    results: dict = {}
    started = time.perf_counter()
    try:
        for method in methods:
            t0 = time.perf_counter()
            entries = train_all(method, files, base, runs, args.reuse)
            rule, tuned = base.detect, None
            if args.tune_on:
                rule, tuned = tune_rule(entries, files, args.tune_on, base.detect)
            per_file = scores_by_file(files, {k: events_of(e, rule) for k, e in entries.items()})
            results[method] = {
                "rule": to_dict(rule),
                "tuning_f1_nab": tuned,
                "table": table(files, per_file, folders, args.tune_on),
                "wall_time_s": time.perf_counter() - t0,
                "train_and_score_s": sum(e["seconds"] for e in entries.values()),
                "skipped": {k: e["error"] for k, e in entries.items() if "error" in e},
                "files": {
                    k: {
                        "events": events_of(e, rule).tolist(),
                        "tp": s.tp,
                        "fp": s.fp,
                        "fn": s.fn,
                        "nab_raw": s.raw,
                    }
                    for (k, e), s in zip(entries.items(), per_file.values())
                },
            }
            print(
                f"{method}: {results[method]['wall_time_s']:.0f} s, rule {results[method]['rule']}"
            )
    finally:
        if args.runs is None:
            shutil.rmtree(runs, ignore_errors=True)
    total = time.perf_counter() - started

    null = scores_by_file(files, {f.key: [] for f in files})
    results["null"] = {"table": table(files, null, folders, args.tune_on)}
    gap = base.detect.min_gap
    tables = []
    for seed in range(args.seeds):
        flags = random_events(files, args.random_rate, None, seed)
        events = {k: events_from_flags(v, gap) for k, v in flags.items()}
        tables.append(table(files, scores_by_file(files, events), folders, args.tune_on))
    results[f"random p={args.random_rate:g}"] = {"table": mean_table(tables)}
    best = max(methods, key=lambda m: results[m]["table"]["pooled"]["f1"])
    counts = {k: len(v["events"]) for k, v in results[best]["files"].items()}
    tables = [
        table(
            files,
            scores_by_file(files, random_events(files, None, counts, seed)),
            folders,
            args.tune_on,
        )
        for seed in range(args.seeds)
    ]
    results[f"random as {best}"] = {"table": mean_table(tables)}

    rows = [*folders, "pooled", *(["pooled held-out"] if args.tune_on else [])]
    print_table(results, rows, args.tune_on)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    load = os.getloadavg()
    print(
        f"\nbest detector by pooled event F1: {best}; total wall time {total:.0f} s, "
        f"process CPU time {cpu:.0f} s, on {torch.get_num_threads()} thread(s), "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    summary = {
        "config": to_dict(base),
        "data_dir": args.data_dir,
        "tuned_on": args.tune_on,
        "grid": GRIDS if args.tune_on else None,
        "wall_time_s": total,
        "cpu_time_s": cpu,
        "load_average": load,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "best": best,
        "results": results,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
