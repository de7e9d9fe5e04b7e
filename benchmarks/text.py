"""text on IMDB: the documented setting over 3 seeds, the linear baselines, and the Keras peer.

1. ``rnnkit text train --preset imdb --seed K`` for K = 0, 1, 2 (``RUNS/imdb-seedK``), through
   the real command line; seed 0 also fits the TF-IDF + logistic regression and NB-SVM
   baselines on the same split (they are reported in its metrics.json). A run directory that
   already holds metrics.json is read, not retrained; ``--train`` trains the missing ones among
   ``--seeds``, so each seed can be its own job on a shared machine.
   Target: test accuracy >= 89.0% (mean of 3 seeds), training within 60 minutes on 2 cores.
2. The peer (``--keras PYTHON``): Keras 3's bidirectional LSTM IMDB example
   (``benchmarks/text_keras.py``) in its own environment (``--keras-backend``, TensorFlow by
   default: Keras' torch backend runs its LSTM as a Python loop over time steps on CPU), on the
   token ids of seed 0's split and vocabulary, for the same number of epochs and the same
   threads: accuracy and time per epoch.

Every run records its wall and CPU seconds and the machine's load average while it ran. The
script prints the Markdown tables of docs/text.md ("IMDB results"), writes
benchmarks/results/text.json, and with ``--docs`` writes the tables into docs/text.md. On a
shared machine, train one seed per job, one thread each::

    python benchmarks/text.py --train --seeds 0              # then --seeds 1, --seeds 2
    python benchmarks/text.py --keras PATH/TO/keras-env/bin/python
    python benchmarks/text.py --docs                         # the tables, from the saved runs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "text.json"
DOCS = ROOT / "docs" / "text.md"
BEGIN, END = "<!-- imdb-tables: benchmarks/text.py --docs -->", "<!-- /imdb-tables -->"
SEEDS = (0, 1, 2)
TARGET = 0.890
PROTOCOL = (
    "official 25k/25k split; validation: 2,500 of the training reviews (stratified, seeded); "
    "settings chosen on validation, test scored once"
)
# (model, test accuracy, protocol, source), quoted as published; none reports times or seeds
PUBLISHED = [
    ("NB-SVM bigrams (NBSVM-bi)", "91.22%", "25k/25k", "Wang & Manning 2012, Table 2"),
    ("word vectors + bag of words (full model)", "88.89%", "25k/25k, 50k unlabelled reviews",
     "Maas et al. 2011, Table 2"),
    ("LSTM, random initialisation", "86.5%", "25k/25k", "Dai & Le 2015, Table 3"),
    ("2-layer BiLSTM, GloVe 100d", "86.2%", "25k/25k, maxlen none",
     "bentrevett/pytorch-sentiment-analysis, notebook 2"),
    ("Keras BiLSTM example", "~87.8% (its validation)", "25k/25k, maxlen 200, 2 epochs",
     "keras.io/examples/nlp/bidirectional_lstm_imdb"),
]  # fmt: skip


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while a command runs."""

    def __init__(self, every: float = 30.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        s = self.samples
        return {"min": round(min(s), 2), "mean": round(statistics.mean(s), 2),
                "max": round(max(s), 2)}  # fmt: skip


def timed(command: list[str], env: dict | None = None, capture: bool = False) -> dict:
    """Run a command; its wall and CPU seconds, the load average while it ran (and stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with LoadSampler() as load:
        done = subprocess.run(command, check=True, env=env, capture_output=capture, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1),
        "load": load.summary(),
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    if capture:
        out["stdout"] = done.stdout
    return out


def rnn_run(runs: Path, data_dir: str, seed: int, train: bool) -> dict | None:
    """One seed's metrics, timing, per-epoch log and saved state (trained first when missing
    and asked)."""
    out = runs / f"imdb-seed{seed}"
    timing_path = out / "timing.json"
    if not (out / "metrics.json").is_file():
        if not train:
            return None
        command = [
            sys.executable, "-m", "rnnkit.cli.main", "text", "train", "--preset", "imdb",
            "--seed", str(seed), "--data-dir", data_dir, "--train.progress", "false",
            "--train.threads", "1", "--report.baselines", "true" if seed == 0 else "false",
            "--out", str(out),
        ]  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        timing = timed(command)
        timing_path.write_text(json.dumps(timing))
    metrics = json.loads((out / "metrics.json").read_text())
    with (out / "log.csv").open() as f:
        log = list(csv.DictReader(f))
    state = json.loads((out / "checkpoints" / "best" / "task.json").read_text())
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
    return {"dir": str(out), "metrics": metrics, "log": log, "timing": timing, "state": state}


def export_ids(run_dir: Path, path: Path) -> dict:
    """Token ids of a run's train/validation/test documents (its split and vocabulary)."""
    from rnnkit.config import from_dict
    from rnnkit.tasks.text import TextConfig
    from rnnkit.tasks.text import preprocess as prep
    from rnnkit.tasks.text.task import class_indices, load_documents

    config = from_dict(TextConfig, json.loads((run_dir / "config.json").read_text()))
    docs = load_documents(config)
    state, _ = prep.fit(docs["train"].texts, config.text)
    vocab = prep.vocabulary(state)
    classes = sorted(set(docs["train"].labels))
    arrays: dict[str, np.ndarray] = {"vocab_size": np.array(len(vocab))}
    for split, d in docs.items():
        tokens = prep.tokenize(d.texts, config.text, state["subwords"])
        ids = [prep.truncate(vocab.encode(t), config.text) for t in tokens]
        arrays[f"{split}_ids"] = np.concatenate([np.asarray(i, dtype=np.int32) for i in ids])
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(i) for i in ids])
        arrays[f"{split}_y"] = np.array(class_indices(d, classes, split))
    np.savez_compressed(path, **arrays)
    return {"vocab_size": len(vocab), "epochs": config.train.epochs}


def keras_peer(runs: Path, python: str, backend: str) -> dict | None:
    """The peer's saved result, or (given a Python with keras) run it on seed 0's split."""
    saved = runs / "keras.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    if not python:
        return None
    if not (runs / "imdb-seed0" / "metrics.json").is_file():
        raise SystemExit("the Keras peer reads seed 0's split: train it first (--train --seeds 0)")
    ids = runs / "imdb-ids.npz"
    info = export_ids(runs / "imdb-seed0", ids)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [python, str(ROOT / "benchmarks" / "text_keras.py"), str(ids),
               "--epochs", str(info["epochs"]), "--threads", "1"]  # fmt: skip
    timing = timed(command, env=env, capture=True)
    result = json.loads(timing.pop("stdout").strip().splitlines()[-1])
    result.update(timing)
    saved.write_text(json.dumps(result))
    return result


def mean_std(values: list[float], scale: float = 100.0) -> str:
    if len(values) == 1:
        return f"{scale * values[0]:.2f}%"
    return f"{scale * statistics.mean(values):.2f} ± {scale * statistics.stdev(values):.2f}%"


def _minutes(seconds: list[float]) -> str:
    if not seconds:
        return "–"
    return " / ".join(f"{s / 60:.0f}" for s in seconds) + " min"


def _load(timings: list[dict]) -> str:
    loads = [t["load"] for t in timings if "load" in t]
    if not loads:
        return "–"
    return f"{min(x['min'] for x in loads):.1f}–{max(x['max'] for x in loads):.1f}"


def summarize(results: list[dict]) -> dict:
    """The RNN's figures over the seeds present."""
    test = [r["metrics"]["test"]["accuracy"] for r in results]
    epoch_s = [float(row["time_s"]) for r in results for row in r["log"]]
    return {
        "seeds": [int(Path(r["dir"]).name.removeprefix("imdb-seed")) for r in results],
        "test_accuracy": test,
        "validation_accuracy": [r["metrics"]["validation"]["accuracy"] for r in results],
        "test_f1": [r["metrics"]["test"]["f1"] for r in results],
        "epochs": [len(r["log"]) for r in results],
        "best_epoch": [r["metrics"].get("best_epoch") for r in results],
        "epoch_s_mean": round(statistics.mean(epoch_s), 1),
        "training_s": [round(sum(float(row["time_s"]) for row in r["log"]), 1) for r in results],
        "word2vec_s": [r["state"].get("embedding_info", {}).get("seconds") for r in results],
        "run_wall_s": [r["timing"].get("wall_s") for r in results],
        "run_cpu_s": [r["timing"].get("cpu_s") for r in results],
        "load": [r["timing"].get("load") for r in results],
        "target": TARGET,
        "meets_target": statistics.mean(test) >= TARGET,
    }


def tables(results: list[dict], rnn: dict, peer: dict | None) -> str:
    """The Markdown of docs/text.md's IMDB results: measured, then published."""
    first = results[0]
    config = json.loads((Path(first["dir"]) / "config.json").read_text())
    model, text, epochs = config["model"], config["text"], config["train"]["epochs"]
    timings = [r["timing"] for r in results if r["timing"]]
    seeds = ", ".join(map(str, rnn["seeds"]))
    lines = [
        f"Measured by `benchmarks/text.py` ({PROTOCOL}). One thread per run "
        f"(`OMP_NUM_THREADS=1`, `--train.threads 1`) on a shared {os.cpu_count()}-core machine; "
        '"load" is the 1-minute load average sampled while each run ran (min–max). '
        "Training time is the sum of the epochs (training and validation); a whole run adds "
        "reading and tokenising 50,000 reviews, word2vec, the final evaluation and, for seed "
        "0, the baselines.",
        "",
        "| model | protocol | source | seeds | test accuracy | time per epoch | training "
        "| whole run: wall / CPU | load |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| BiLSTM {model['hidden_size']}×2, {model['embeddings']} {model['embedding_size']}d, "
        f"{model['pooling']} pooling | {text['max_length']} tokens ({text['truncation']}), "
        f"vocabulary {text['max_vocab']:,}, {epochs} epochs, best epoch on validation | "
        f"`rnnkit text train --preset imdb` | {seeds} | {mean_std(rnn['test_accuracy'])} | "
        f"{rnn['epoch_s_mean'] / 60:.1f} min | {_minutes(rnn['training_s'])} | "
        f"{_minutes([t['wall_s'] for t in timings])} / {_minutes([t['cpu_s'] for t in timings])} "
        f"| {_load(timings)} |",
    ]
    baselines = first["state"].get("baselines") or {}
    names = {"tfidf_logreg": "TF-IDF word 1–2 grams + logistic regression",
             "nbsvm": "NB-SVM (NB-weighted logistic regression, binary 1–2 grams)"}  # fmt: skip
    for name, label in names.items():
        if name in baselines:
            b = baselines[name]
            lines.append(
                f"| {label} | seed 0's split, C = {b['C']:g} chosen on validation, "
                f"{b['features']:,} features | `rnnkit.tasks.text.baselines` (scikit-learn) | "
                f"0 (deterministic) | {100 * b['test']['accuracy']:.2f}% | – | "
                f"{b['seconds'] / 60:.1f} min (3 values of C) | within seed 0's run | – |"
            )
    if peer:
        lines.append(
            f"| Keras {peer['keras']} ({peer['backend']}) BiLSTM example: Embedding 128, "
            f"2 × BiLSTM 64 | seed 0's split and vocabulary, maxlen {peer['maxlen']} (front), "
            f"batch {peer.get('batch_size', 32)}, {peer['epochs']} epochs, last epoch | "
            f"`benchmarks/text_keras.py` | 0 | {100 * peer['test_accuracy']:.2f}% | "
            f"{statistics.mean(peer['epoch_s']) / 60:.1f} min | {peer['train_s'] / 60:.0f} min | "
            f"{peer['wall_s'] / 60:.0f} min / {peer['cpu_s'] / 60:.0f} min | "
            f"{_load([peer])} |"
        )
    verdict = "met" if rnn["meets_target"] else "**not met**"
    lines += [
        "",
        f"Validation accuracy of the same runs: {mean_std(rnn['validation_accuracy'])}. "
        f"Target: test accuracy ≥ {100 * TARGET:.1f}% (mean of 3 seeds): {verdict}.",
        "",
        "Published figures on the same 25k/25k split (quoted, not rerun here; none states "
        "seeds or training times):",
        "",
        "| model | test accuracy | protocol | source |",
        "|---|---|---|---|",
        *(f"| {m} | {a} | {p} | {s} |" for m, a, p, s in PUBLISHED),
    ]
    return "\n".join(lines)


def write_docs(markdown: str) -> None:
    """Replace the block between the markers in docs/text.md with ``markdown``."""
    text = DOCS.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOCS}: no {BEGIN} ... {END} block to replace")
    DOCS.write_text(text[: start + len(BEGIN)] + "\n\n" + markdown + "\n\n" + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "text"))
    parser.add_argument("--train", action="store_true", help="train the missing runs of --seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="the seeds to train with --train")  # fmt: skip
    parser.add_argument("--keras", default="", help="a Python with keras for the peer run")
    parser.add_argument(
        "--keras-backend", default="tensorflow", help="KERAS_BACKEND of the peer run"
    )
    parser.add_argument("--docs", action="store_true", help="write the tables into docs/text.md")
    args = parser.parse_args()
    runs = Path(args.runs)

    for seed in args.seeds if args.train else ():
        rnn_run(runs, args.data_dir, seed, train=True)
    results = [r for s in SEEDS if (r := rnn_run(runs, args.data_dir, s, train=False))]
    if not results:
        raise SystemExit(f"no runs under {runs}: pass --train")
    peer = keras_peer(runs, args.keras, args.keras_backend)
    rnn = summarize(results)
    markdown = tables(results, rnn, peer)
    print(markdown)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"processor": platform.processor(), "cpus": os.cpu_count()},
                "rnn": rnn,
                "baselines": results[0]["state"].get("baselines"),
                "keras": peer,
            },
            indent=1,
        )
    )
    print(f"\nwrote {RESULTS}")
    if args.docs:
        write_docs(markdown)
        print(f"wrote the tables into {DOCS}")


if __name__ == "__main__":
    main()
