"""Language models on tinyshakespeare: the documented results over seeds, and speed.

``python benchmarks/lm.py results`` regenerates docs/lm.md's result tables. Each documented run
(:data:`RUNS`) is trained through the real command line once per seed into
``RUNS_DIR/<name>-seed<k>`` (``--train``; a run directory that holds metrics.json is read, not
retrained; ``--lock FILE`` holds a lock file around each training run on a shared machine).
Character models are then scored again on their validation text in float32 two ways
(:mod:`rnnkit.tasks.lm.evaluation`): one stream over the whole text, state carried, and
256-character blocks from a zero state (nanoGPT's protocol). It prints mean ± std over the seeds
with wall time, process CPU time and the load average during each run, and writes
benchmarks/results/lm_results.json.

    python benchmarks/lm.py results --data-dir ../shared/datasets --train --lock /tmp/x.lock
    python benchmarks/lm.py results --only nanogpt --seeds 0 1 2        # read those runs

``python benchmarks/lm.py [options]`` (no subcommand) measures speed: tokens per second in
training and in generation, rnnkit vs bare PyTorch. Training compares the ``lm`` task run by
the shared engine (``rnnkit.train.fit``: Lightning,
stateful truncated BPTT over parallel streams, clipping, Adam) with a bare PyTorch loop of the
same model (``nn.Embedding`` -> ``nn.LSTM`` -> ``nn.Linear``, the same optimiser, clipping and
carried state). Only the optimisation steps are timed (from the second step on), not the set-up
or the validation. Generation compares :func:`rnnkit.tasks.lm.generate_ids` (one token at a time,
sampling with temperature 1) with a bare loop over ``nn.LSTM`` calls of one step each.

Implementations alternate block by block and the medians are reported, since this machine's
speed drifts (../shared/PERF-NOTES.md). Prints a table and writes JSON.

    python benchmarks/lm.py                  # docs/lm.md's tinyshakespeare model: 2x384 LSTM
    python benchmarks/lm.py --hidden 512 --batch 64   # another shape
    python benchmarks/lm.py --quick          # 2x128 LSTM, few steps: a smoke test

Set ``OMP_WAIT_POLICY=passive`` on a machine shared with other jobs: OpenMP's spinning threads
otherwise slow every small kernel call by up to 100x when the cores are oversubscribed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch import nn

from rnnkit.allocator import keep_freed_memory
from rnnkit.config import resolve
from rnnkit.tasks.lm import TASK, LanguageModel, LMConfig, generate_ids
from rnnkit.train import fit
from timing import timed_command  # benchmarks/timing.py (scripts run from this folder)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/datasets/tinyshakespeare/input.txt"


class StepTimer(Callback):
    """Seconds and target tokens of every training step after the first."""

    def __init__(self) -> None:
        self.seconds, self.tokens, self._start = 0.0, 0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if batch_idx > 0:
            self.seconds += time.perf_counter() - self._start
            self.tokens += batch[0]["y"].numel()


def engine_training(corpus: Path, args: argparse.Namespace, folder: Path) -> float:
    """Tokens per second of the engine's training steps on ``args.steps`` chunks."""
    config = resolve(
        LMConfig,
        flags={
            "data.files": str(corpus),
            "data.seq_len": str(args.seq_len),
            "data.val_fraction": "0.01",
            "data.test_fraction": "0",
            "model.hidden_size": str(args.hidden),
            "model.embedding_size": str(args.embedding),
            "train.batch_size": str(args.batch),
            "train.epochs": "1",
            "train.progress": "false",
            "train.eval_train": "false",
        },
    )
    timer = StepTimer()
    fit(TASK, config, folder / f"run-{time.monotonic_ns()}", callbacks=[timer])
    return timer.tokens / timer.seconds


def bare_training(ids: torch.Tensor, vocab: int, args: argparse.Namespace) -> float:
    """Tokens per second of a plain PyTorch loop: same model, optimiser, clipping, state."""
    E, H, B, T = args.embedding, args.hidden, args.batch, args.seq_len
    embedding, lstm, head = (
        nn.Embedding(vocab, E),
        nn.LSTM(E, H, 2, dropout=0.2),
        nn.Linear(H, vocab),
    )
    drop = nn.Dropout(0.2)
    params = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    n = (len(ids) - 1) // B
    x_rows, y_rows = ids[: n * B].view(B, n), ids[1 : n * B + 1].view(B, n)
    state, seconds, tokens = None, 0.0, 0
    for j in range(n // T):
        start = time.perf_counter()
        x, y = x_rows[:, j * T : (j + 1) * T], y_rows[:, j * T : (j + 1) * T]
        out, state = lstm(embedding(x.t()), state)  # (T, B, H)
        logits = head(drop(out)).transpose(0, 1)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        state = tuple(s.detach() for s in state)
        if j > 0:
            seconds += time.perf_counter() - start
            tokens += y.numel()
    return tokens / seconds


def rnnkit_generation(model: LanguageModel, length: int) -> float:
    start = time.perf_counter()
    generate_ids(model, [1, 2, 3], length, temperature=1.0, seed=0)
    return length / (time.perf_counter() - start)


@torch.no_grad()
def bare_generation(model: LanguageModel, length: int) -> float:
    """A plain loop: one ``nn.LSTM`` call (torch's fused kernel) per token, then a sample."""
    lstm = nn.LSTM(model.rnn.input_size, model.rnn.hidden_size, model.rnn.num_layers).eval()
    lstm.load_state_dict(model.rnn.state_dict())
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    out, state = lstm(model.embedding(torch.tensor([[1], [2], [3]])))
    logits = model.head(out[-1])
    for _ in range(length):
        token = torch.multinomial(logits.softmax(-1), 1, generator=g)  # (1, 1)
        out, state = lstm(model.embedding(token), state)
        logits = model.head(out[-1])
    return length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Speed: tokens per second in training and generation, rnnkit vs bare "
        "PyTorch. `python benchmarks/lm.py results --help`: the documented runs over seeds."
    )
    parser.add_argument("--quick", action="store_true", help="small model, few steps")
    parser.add_argument("--repeats", type=int, default=3, help="alternating blocks")
    parser.add_argument("--steps", type=int, default=8, help="training steps per block")
    parser.add_argument("--length", type=int, default=300, help="generated tokens per block")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--hidden", type=int, default=384, help="LSTM hidden size (2 layers)")
    parser.add_argument("--batch", type=int, default=32, help="parallel streams per step")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per chunk")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lm.json"))
    args = parser.parse_args()
    args.embedding = 64
    if args.quick:
        args.hidden = 128
    if args.quick:
        args.repeats, args.steps, args.length = 2, 4, 100
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # what fit() does: the bare loops run under the same malloc setting

    text = (
        SHARED.read_text(encoding="utf-8") if SHARED.is_file() else "To be, or not to be.\n" * 60000
    )
    chars = sorted(set(text))
    per_block = args.batch * args.seq_len * (args.steps + 1) + 1
    ids = torch.tensor([chars.index(c) for c in text[:per_block]])
    load_before, cpu_before, wall_before = os.getloadavg(), time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = folder / "slice.txt"  # engine: the same tokens, plus 1% for its validation split
        corpus.write_text(text[: int(per_block / 0.99) + 2], encoding="utf-8")
        model = LanguageModel(len(chars) + 1, embedding_size=64, hidden_size=args.hidden).eval()
        samples: dict[str, list[float]] = {
            k: [] for k in ("train_engine", "train_bare", "gen_rnnkit", "gen_bare")
        }
        for _ in range(args.repeats):
            samples["train_engine"].append(engine_training(corpus, args, folder))
            samples["train_bare"].append(bare_training(ids, len(chars) + 1, args))
            samples["gen_rnnkit"].append(rnnkit_generation(model, args.length))
            samples["gen_bare"].append(bare_generation(model, args.length))
    result = {k: statistics.median(v) for k, v in samples.items()}
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    load = {"before": load_before, "after": os.getloadavg()}

    shape = (
        f"2-layer LSTM {args.hidden}, E=64, V={len(chars) + 1}, B={args.batch}, T={args.seq_len}"
    )
    print(f"\n{shape}; threads={torch.get_num_threads()}; medians of {args.repeats} blocks")
    print(f"{'':<12}{'rnnkit tok/s':>14}{'bare tok/s':>12}{'ratio':>8}")
    for label, ours, bare in (
        ("training", "train_engine", "train_bare"),
        ("generation", "gen_rnnkit", "gen_bare"),
    ):
        ratio = result[ours] / result[bare]
        print(f"{label:<12}{result[ours]:>14.0f}{result[bare]:>12.0f}{ratio:>8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "shape": shape,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "machine": platform.machine(),
                "tokens_per_second": result,
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "load_average": load,
                "samples": samples,
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"benchmark wall {wall:.0f} s, process CPU {cpu:.0f} s; load average (1, 5, 15 min) "
        f"before {load['before'][0]:.1f} {load['before'][1]:.1f} {load['before'][2]:.1f}, "
        f"after {load['after'][0]:.1f} {load['after'][1]:.1f} {load['after'][2]:.1f}"
    )
    print(f"wrote {args.out}")


# ------------------------------------------------------------------------------ results
# name -> (flags, seeds, what the validation split is). The select-* runs are candidates for the
# shakespeare-nanogpt preset, trained and validated on nanoGPT's training 90% alone (its last 5%
# validating), so that choosing among them never reads nanoGPT's validation text.
WORD_FLAGS = [
    "--data.level", "word", "--data.lower", "true", "--data.min_freq", "3", "--data.seq_len", "35",
    "--model.embedding_size", "256", "--model.hidden_size", "256", "--model.tie_weights", "true",
    "--model.dropout", "0.3", "--train.epochs", "4", "--train.eval_train", "false",
]  # fmt: skip
HOLDOUT = ["--preset", "shakespeare-nanogpt", "--data.split", "nanogpt-holdout"]


def select(hidden: int, dropout: float, epochs: int) -> list[str]:
    """A candidate of the nanogpt preset, trained and validated on nanoGPT's training 90%."""
    sizes = ["--model.hidden_size", str(hidden), "--model.dropout", str(dropout)]
    return [*HOLDOUT, *sizes, "--train.epochs", str(epochs)]


RUNS: dict[str, tuple[list[str], tuple[int, ...], str]] = {
    "nanogpt": (["--preset", "shakespeare-nanogpt"], (0, 1, 2), "last 10% (nanoGPT's val)"),
    "select-2x512-d25": (select(512, 0.25, 24), (0,), "85.5-90% (holdout)"),
    "select-2x512-d50": (select(512, 0.5, 24), (0,), "85.5-90% (holdout)"),
    "select-2x768-d50": (select(768, 0.5, 16), (0,), "85.5-90% (holdout)"),
    "fractions": ([], (0, 1, 2), "90-95%; test 95-100%"),
    "word": (
        WORD_FLAGS,
        (0, 1, 2),
        "90-95%; test 95-100%",
    ),
}


def train_run(flags: list[str], run: Path, data_dir: str, lock: str | None) -> dict:
    """Train one run through the command line: its CPU seconds and the load during it."""
    command = [sys.executable, "-m", "rnnkit.cli.main", "lm", "train", *flags]
    command += ["--data.data_dir", data_dir, "--train.progress", "false", "--out", str(run)]
    return timed_command(command, run, lock)


def rescore(run: Path) -> dict:
    """Validation nats/char of the best checkpoint in float32: one stream, 256-char blocks."""
    from rnnkit.tasks.lm import TASK, block_loss, stream_loss
    from rnnkit.tasks.lm.data import encode_text
    from rnnkit.train import load_run

    loaded = load_run(TASK, run)
    ids = encode_text(loaded.config.data).parts["validation"]
    return {
        "stream": stream_loss(loaded.model, ids, rows=1),
        "blocks256": block_loss(loaded.model, ids, block=256),
        "tokens": len(ids),
    }


def read_run(run: Path, char: bool) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    bench_file = run / "bench.json"
    bench = json.loads(bench_file.read_text()) if bench_file.is_file() else {}
    if char and "rescored" not in bench:
        bench["rescored"] = rescore(run)
        bench_file.write_text(json.dumps(bench, indent=2) + "\n")
    log = list(csv.DictReader((run / "log.csv").open()))
    return {
        "val": metrics["validation"]["loss"],
        "test": metrics.get("test", {}).get("loss"),
        "last_val": float(log[-1]["val_loss"]),
        "best_epoch": metrics["best_epoch"],
        "epochs": metrics["epochs"],
        "parameters": metrics["parameters"],
        "wall_s": metrics["wall_time_s"],
        **bench,
    }


def mean_std(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def results(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="docs/lm.md's results over seeds")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "lm", help="run folders")
    parser.add_argument("--data-dir", default=str(SHARED.parents[1]), help="datasets folder")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), help="these runs only")
    parser.add_argument("--seeds", nargs="*", type=int, help="these seeds only")
    parser.add_argument("--train", action="store_true", help="train the missing runs")
    parser.add_argument("--lock", help="hold this lock file (flock) around each training run")
    args = parser.parse_args(argv)
    table = {}
    for name in args.only or RUNS:
        flags, seeds, split = RUNS[name]
        rows = []
        for seed in [s for s in seeds if args.seeds is None or s in args.seeds]:
            run = args.runs / f"{name}-seed{seed}"
            if not (run / "metrics.json").is_file():
                if not args.train:
                    print(f"{run}: missing (pass --train)")
                    continue
                bench = train_run([*flags, "--train.seed", str(seed)], run, args.data_dir,
                                  args.lock)  # fmt: skip
                (run / "bench.json").write_text(json.dumps(bench, indent=2) + "\n")
            rows.append({"seed": seed, **read_run(run, "word" not in flags)})
        table[name] = {"split": split, "flags": flags, "seeds": rows}
    print(
        "| run | validation split | val loss, engine | one stream | 256-char blocks | "
        "test loss | best epoch / epochs | seeds | wall (s) | CPU (s) | load during |"
    )
    print("|" + "---|" * 11)
    for name, entry in table.items():
        rows = entry["seeds"]
        if not rows:
            continue

        def col(key: str, sub: str | None = None, rows: list[dict] = rows) -> list[float]:
            return [r[key][sub] if sub else r[key] for r in rows if r.get(key) is not None]

        loads = [x for r in rows for x in r.get("load_during", [])]
        cells = [
            name, entry["split"], mean_std(col("val")), mean_std(col("rescored", "stream")),
            mean_std(col("rescored", "blocks256")), mean_std(col("test")),
            " ".join(f"{r['best_epoch'] + 1}/{r['epochs']}" for r in rows),
            ",".join(str(r["seed"]) for r in rows), mean_std(col("wall_s"), 0),
            mean_std(col("cpu_s"), 0),
            f"{min(loads):.1f}-{max(loads):.1f} (mean {statistics.mean(loads):.1f})"
            if loads else "-",
        ]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    out = Path(__file__).parent / "results" / "lm_results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"torch": torch.__version__, "runs": table}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["results"]:
        results(sys.argv[2:])
    else:
        main()
