"""Scoring rows and markdown tables of ``benchmarks/nab.py``, and Orion's published NAB figures."""

from __future__ import annotations

import numpy as np

from nab_synthetic import FOLDER as SYNTHETIC  # benchmarks/
from nab_synthetic import kind_of
from rnnkit.data.datasets.nab import LabelledSeries
from rnnkit.tasks.anomaly.nab import (
    Counts,
    event_intervals,
    events_from_flags,
    overlap_counts,
    score_file,
    summarise,
)

# Orion's published benchmark, release 0.7.1 (sintel-dev/Orion, benchmark/results/0.7.1.csv,
# overlap-segment confusion matrix per signal, summed here per data set as Orion's
# benchmark/utils.py does): (tp, fp, fn). Orion's pipelines fit the whole series (offline).
ORION = {
    "AER (Orion 0.7.1)": {"artificialWithAnomaly": (6, 4, 0), "realAWSCloudwatch": (20, 7, 10)},
    "LSTM-AE (Orion 0.7.1)": {
        "artificialWithAnomaly": (3, 2, 3),
        "realAWSCloudwatch": (21, 5, 9),
    },
    "LSTM-DT (Orion 0.7.1)": {
        "artificialWithAnomaly": (3, 6, 3),
        "realAWSCloudwatch": (18, 19, 12),
    },
}
ORION_FOLDERS = ("realAWSCloudwatch", "artificialWithAnomaly")
BOTH = "AWS + artificialWithAnomaly"
HELD_OUT = "pooled held-out"


def score_flags(f: LabelledSeries, flags: np.ndarray, gap: int) -> tuple:
    """(NAB score of event onsets, NAB score of flagged records, overlap counts, (flagged,
    scored) records) of one file.

    Flags in the probationary period are dropped before events are formed: they are not scored,
    so they must not merge with (and hide) the first flags after it."""
    T, P = len(f.series), f.probation
    flags = flags.copy()
    flags[:P] = False
    return (
        score_file(events_from_flags(flags, gap), f.windows, T, P),
        score_file(np.flatnonzero(flags), f.windows, T, P),
        overlap_counts(event_intervals(flags, gap), f.windows, T, P),
        (int(flags.sum()), T - P),
    )


def row(scored: dict, keys: list[str]) -> dict:
    """The metrics of a group of scored files (counts and raw scores summed over them first)."""
    onsets = summarise(scored[k][0] for k in keys)
    flagged = summarise(scored[k][1] for k in keys)
    overlap = sum((scored[k][2] for k in keys), Counts())
    return {
        "windows": onsets.windows,
        "tp": onsets.tp,
        "fp": onsets.fp,
        "fn": onsets.fn,
        "f1": onsets.f1,
        "precision": onsets.precision,
        "recall": onsets.recall,
        "nab_onsets": onsets.nab["standard"],
        "nab_onsets_profiles": onsets.nab,
        "nab_flagged": flagged.nab["standard"],
        "overlap_f1": overlap.f1,
        "overlap": [overlap.tp, overlap.fp, overlap.fn],
        "flagged_share": sum(scored[k][3][0] for k in keys) / sum(scored[k][3][1] for k in keys),
    }


def groups(files: list[LabelledSeries], tuning: str) -> dict[str, list[str]]:
    """Row name -> file keys: each folder, the held-out pool, the Orion folders, all NAB folders,
    the resampled pool, and the synthetic suite by kind of anomaly and pooled."""
    folders = [f for f in dict.fromkeys(f.folder for f in files) if f != SYNTHETIC]
    out = {folder: [f.key for f in files if f.folder == folder] for folder in folders}
    plain = [f for f in files if "@" not in f.folder and f.folder != SYNTHETIC]
    out[HELD_OUT] = [f.key for f in plain if f.folder != tuning]
    out[BOTH] = [f.key for f in plain if f.folder in ORION_FOLDERS]
    out["pooled, all NAB folders"] = [f.key for f in plain]
    resamples = [f.key for f in files if "@" in f.folder]
    if resamples:
        out["pooled held-out, resampled"] = resamples
    synthetic = [f.key for f in files if f.folder == SYNTHETIC]
    for kind in dict.fromkeys(kind_of(k) for k in synthetic):
        out[f"synthetic: {kind}"] = [k for k in synthetic if kind_of(k) == kind]
    if synthetic:
        out["synthetic, pooled"] = synthetic
    return {name: keys for name, keys in out.items() if keys}


def orion_f1() -> dict:
    """Pipeline -> folder (and both pooled) -> overlap F1 from :data:`ORION`'s counts."""
    out = {}
    for name, counts in ORION.items():
        per = {k: Counts(*v) for k, v in counts.items()}
        out[name] = {**{k: c.f1 for k, c in per.items()}, BOTH: sum(per.values(), Counts()).f1}
    return out


def orion_markdown(orion: dict) -> str:
    lines = ["\n\nOrion's overlap F1 (published, release 0.7.1; whole-series fit)\n"]
    lines.append(f"| pipeline | {' | '.join(ORION_FOLDERS)} | {BOTH} |")
    lines.append("|---|---|---|---|")
    for name, f1 in orion.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{f1[k]:.3f}" for k in (*ORION_FOLDERS, BOTH)) + " |"
        )
    return "\n".join(lines) + "\n"


def cell(values: list, digits: int = 3) -> str:
    values = [v for v in values if v == v]  # NaN: no windows
    if not values:
        return "–"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {float(np.std(values)):.{digits}f}"


def markdown(results: dict, names: list[str], rows: dict, tuning: str) -> str:
    lines = []
    for metric, label, digits in (
        ("f1", "event F1", 3),
        ("nab_onsets", "NAB score of event onsets (standard)", 1),
        ("nab_flagged", "NAB score of flagged records (standard)", 1),
        ("overlap_f1", "Orion's overlap F1", 3),
        ("flagged_share", "share of scored records flagged", 3),
    ):
        lines += [f"\n{label}, mean ± std over seeds\n"]
        lines.append("| rows (windows) | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for name in rows:
            first = results[names[0]]["table"].get(name)
            if first is None:
                continue
            tag = " (tuning)" if name == tuning else ""
            cells = [cell(results[n]["table"].get(name, {}).get(metric, []), digits) for n in names]
            lines.append(f"| {name}{tag} ({first['windows'][0]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def times_markdown(times: dict) -> str:
    """Fit times: (detector, rows) -> fits, wall s, CPU s, mean load average (1 min)."""
    lines = ["\n\nFit times (one thread each; wall and CPU summed over the fits)\n"]
    lines.append("| detector | rows | fits | wall | CPU | load average (mean of the fits) |")
    lines.append("|---|---|---|---|---|---|")
    for (name, rows), t in times.items():
        lines.append(
            f"| {name} | {rows} | {t['fits']} | {t['wall_s'] / 60:.1f} min | "
            f"{t['cpu_s'] / 60:.1f} min | {t['load']:.1f} |"
        )
    return "\n".join(lines) + "\n"
