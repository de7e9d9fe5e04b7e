"""translate on fra-eng (English -> French, sentences <= 15 words): our documented run and the
Keras 3 character-level ``lstm_seq2seq`` example beside it, same split, same time budget.

1. rnnkit: ``--preset fra-eng`` trained in this process through :func:`rnnkit.train.fit`, with a
   time budget (default 3,600 s of training): after each epoch, training stops when one more
   epoch (at the mean epoch time so far, validation included) would not fit. The best
   checkpoint (validation BLEU) is then scored on the test split, once (beam search and greedy).
2. Keras: ``benchmarks/keras_lstm_seq2seq.py`` run by the Python of a separate environment
   (``--keras PYTHON``, the ``bin/python`` of an environment with Keras) on the training pairs
   of the same split, for the same training time; its greedy translations of the test sources
   are scored by the same sacreBLEU call (:func:`rnnkit.tasks.translate.scoring.corpus_scores`)
   against the same test pairs.

Prints a Markdown table and writes benchmarks/results/translate.json, with wall and CPU seconds
and the load average (the machine is shared). A run directory that already holds results is
read, not retrained. Run each part on an otherwise idle machine::

    python benchmarks/translate.py --train
    python benchmarks/translate.py --only-keras --keras KERAS_ENV/bin/python
    python benchmarks/translate.py --keras KERAS_ENV/bin/python   # the table of both
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "translate.json"
TARGET_BLEU = 35.0


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def time_budget(seconds: float):
    """A Lightning callback: stop after an epoch when one more would not fit in ``seconds``."""
    from lightning.pytorch.callbacks import Callback

    class TimeBudget(Callback):
        def on_train_start(self, trainer, module) -> None:
            self.start, self.epochs = time.perf_counter(), 0

        def on_train_epoch_end(self, trainer, module) -> None:
            self.epochs += 1
            elapsed = time.perf_counter() - self.start
            if elapsed + elapsed / self.epochs > seconds:
                trainer.should_stop = True

    return TimeBudget()


def config_of(data_dir: str, epochs: int | None, seed: int, settings: tuple[str, ...] = ()):
    from rnnkit.config import resolve
    from rnnkit.tasks import get_task

    task = get_task("translate")
    flags = {"data.data_dir": data_dir, "train.seed": str(seed), "train.progress": "false"}
    flags.update(item.split("=", 1) for item in settings)
    if epochs:
        flags["train.epochs"] = str(epochs)
    base = dict(task.presets["fra-eng"])
    return task, resolve(task.config_class, flags=flags, base=base)


def run_rnnkit(
    run: Path, data_dir: str, budget: float, epochs: int | None, seed: int, settings=()
) -> dict:
    """Train (unless ``run`` holds a finished run) and return its figures."""
    timing_file = run / "timing.json"
    if not timing_file.is_file():
        from rnnkit.train import fit

        task, config = config_of(data_dir, epochs, seed, settings)
        before = {"wall": time.perf_counter(), "cpu": cpu_seconds(resource.RUSAGE_SELF),
                  "load_avg": load_avg()}  # fmt: skip
        fit(task, config, run, callbacks=[time_budget(budget)])
        timing = {
            "wall_s": round(time.perf_counter() - before["wall"], 1),
            "cpu_s": round(cpu_seconds(resource.RUSAGE_SELF) - before["cpu"], 1),
            "load_avg_before": before["load_avg"],
            "load_avg_after": load_avg(),
            "threads": config.train.threads or "torch default",
        }
        timing_file.write_text(json.dumps(timing, indent=2))
    metrics = json.loads((run / "metrics.json").read_text())
    log = [line.split(",") for line in (run / "log.csv").read_text().splitlines()]
    train_s = sum(float(row[log[0].index("time_s")]) for row in log[1:])
    test = metrics["test"]
    return {
        "system": "rnnkit translate --preset fra-eng",
        "bleu": test["bleu"],
        "bleu_greedy": test["bleu_greedy"],
        "chrf": test["chrf"],
        "chrf_greedy": test["chrf_greedy"],
        "bleu_multi": test["bleu_multi"],
        "bleu_by_length": test["bleu_by_length"],
        "bleu_signature": test["bleu_signature"],
        "chrf_signature": test["chrf_signature"],
        "bleu_multi_signature": test["bleu_multi_signature"],
        "validation_bleu_greedy": metrics["validation"]["bleu_greedy"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "parameters": metrics["parameters"],
        "train_s": round(train_s, 1),
        **json.loads(timing_file.read_text()),
        "run_dir": str(run),
    }


def run_keras(run: Path, python: str, budget: float, data_dir: str, settings=()) -> dict:
    """Train the Keras example on the same split for ``budget`` seconds; score its output."""
    from rnnkit.data.parallel import read_tsv, write_tsv
    from rnnkit.tasks.translate.data import load_splits
    from rnnkit.tasks.translate.scoring import corpus_scores, multi_reference_bleu

    run.mkdir(parents=True, exist_ok=True)
    report = run / "report.json"
    if not report.is_file():
        _, config = config_of(data_dir, None, 0, settings)
        splits, _ = load_splits(config.data)
        write_tsv(run / "train.tsv", splits["train"])
        write_tsv(run / "test.tsv", splits["test"])
        sources = list(dict.fromkeys(splits["test"].source))
        (run / "test_sources.txt").write_text("".join(s + "\n" for s in sources))
        command = [python, str(Path(__file__).parent / "keras_lstm_seq2seq.py"),
                   "--train", str(run / "train.tsv"), "--sources", str(run / "test_sources.txt"),
                   "--budget", str(budget), "--output", str(run / "hypotheses.txt"),
                   "--report", str(report)]  # fmt: skip
        env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"),
               "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
        load_before, cpu_before = load_avg(), cpu_seconds(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        timing = {
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before, 1),
            "load_avg_before": load_before,
            "load_avg_after": load_avg(),
        }
        (run / "timing.json").write_text(json.dumps(timing, indent=2))
    test = read_tsv(run / "test.tsv")
    sources = list(dict.fromkeys(test.source))
    keras_report = json.loads(report.read_text())
    lines = (run / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    hyp = {s: " ".join(h.split()) for s, h in zip(sources, lines)}
    scores = corpus_scores([hyp[s] for s in test.source], test.target)
    refs: dict[str, list[str]] = {}
    for s, t in zip(test.source, test.target):
        refs.setdefault(s, []).append(t)
    multi, _ = multi_reference_bleu([hyp[s] for s in refs], list(refs.values()))
    return {
        "system": f"Keras {keras_report['keras']} lstm_seq2seq ({keras_report['backend']})",
        "bleu": None,
        "bleu_greedy": scores["bleu"],
        "chrf": None,
        "chrf_greedy": scores["chrf"],
        "bleu_multi": multi,
        "bleu_signature": scores["bleu_signature"],
        "epochs": keras_report["epochs_finished"],
        "steps": keras_report["steps"],
        "parameters": keras_report["parameters"],
        "train_s": round(keras_report["train_s"], 1),
        "decode_s": round(keras_report["decode_s"], 1),
        **json.loads((run / "timing.json").read_text()),
        "samples": [(s, refs[s][0], hyp[s]) for s in sources[:: max(1, len(sources) // 10)]],
    }


def fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    out = [
        "| system | test BLEU beam | BLEU greedy | chrF beam | chrF greedy | BLEU all refs | "
        "training s | total wall s | CPU s | epochs | load avg after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {r['system']} | {fmt(r['bleu'])} | {fmt(r['bleu_greedy'])} | {fmt(r['chrf'])} | "
            f"{fmt(r['chrf_greedy'])} | {fmt(r['bleu_multi'])} | {fmt(r['train_s'], 0)} | "
            f"{fmt(r['wall_s'], 0)} | {fmt(r['cpu_s'], 0)} | {r['epochs']} | "
            f"{r['load_avg_after']} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "translate"))
    parser.add_argument("--train", action="store_true", help="train the rnnkit run if missing")
    parser.add_argument("--budget", type=float, default=3600.0, help="training seconds")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", nargs="*", default=(), metavar="KEY=VALUE", help="settings over the preset"
    )
    parser.add_argument("--keras", default=None, help="Python of an environment with Keras 3")
    parser.add_argument("--only-keras", action="store_true", help="run or read Keras alone")
    args = parser.parse_args()
    runs = Path(args.runs)
    ours = runs / f"fra-eng-seed{args.seed}"
    if not (ours / "timing.json").is_file() and not args.train and not args.only_keras:
        raise SystemExit(f"{ours} holds no finished run; add --train to train it")
    keras_run = runs / "keras-lstm-seq2seq"
    if args.keras:  # first: it needs no rnnkit run, only the same split
        keras_row = run_keras(keras_run, args.keras, args.budget, args.data_dir, args.set)
    if args.only_keras:
        print(table([keras_row]))
        return
    rows = [run_rnnkit(ours, args.data_dir, args.budget, args.epochs, args.seed, args.set)]
    if args.keras:
        ours_test = (ours / "split" / "test.tsv").read_text()
        if ours_test != (keras_run / "test.tsv").read_text():
            raise SystemExit(f"{keras_run} was scored on another test split than {ours}")
        rows.append(keras_row)
    print(table(rows))
    print(f"\nBLEU: {rows[0]['bleu_signature']}; chrF: {rows[0]['chrf_signature']}")
    reached = rows[0]["bleu"] >= TARGET_BLEU
    print(f"target test BLEU >= {TARGET_BLEU}: {'reached' if reached else 'NOT reached'} "
          f"({rows[0]['bleu']:.2f})")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "budget_s": args.budget,
        "target_bleu": TARGET_BLEU,
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": sys.version.split()[0]},
        "rows": rows,
    }, indent=2, ensure_ascii=False))  # fmt: skip
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
