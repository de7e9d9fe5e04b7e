"""Choose the ETTh1 model settings on the validation months only: one training run per call.

    .venv/bin/python benchmarks/ett_select.py --mode S --horizon 96 --candidate seg720
    .venv/bin/python benchmarks/ett_select.py --report          # the table of what was run

Each call trains one candidate of ``CANDIDATES`` (seed 0) through the task and the engine, exactly
as ``benchmarks/ett.py`` does, and appends its best validation MSE/MAE, epochs and times to
``benchmarks/results/ett_select.json``. Test metrics are neither printed nor stored: the engine
computes them at the end of every run, but the choice reads only the validation section, and
the test months are looked at once, by ``benchmarks/ett.py`` with the chosen settings.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rnnkit.config import resolve
from rnnkit.tasks.forecast import ForecastConfig, ForecastTask
from rnnkit.train import fit

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "ett_select.json"

BASE = {
    "data.ett": "ETTh1",
    "model.norm": "last",
    "optim.clip_norm": 1.0,
    "train.early_stopping": 3,
    "train.progress": False,
    "train.eval_train": False,
    "eval.baselines": "naive",
}
# SegRNN (Lin et al. 2023; its repository runs univariate ETTh1 with lookback 720, a GRU of 256,
# segments of 48, dropout 0.5), scaled to this 2-core machine: a GRU of 128, every second
# training window, batch 64, at most 15 epochs.
SEGMENT = {
    "model.strategy": "segment",
    "model.cell": "gru",
    "model.num_layers": 1,
    "model.hidden_size": 128,
    "model.segment_length": 48,
    "model.head_dropout": 0.5,
    "data.train_stride": 2,
    "optim.lr": 1e-3,
    "train.batch_size": 64,
    "train.epochs": 15,
}
CANDIDATES: dict[str, dict] = {
    # the previous benchmark model: LSTM, direct head, lookback 96
    "lstm96": {"data.lookback": 96, "data.train_stride": 4, "model.cell": "lstm",
               "model.hidden_size": 64, "optim.lr": 1e-3, "train.batch_size": 64,
               "train.epochs": 10},
    "seg720": {**SEGMENT, "data.lookback": 720},
    "seg720skip": {**SEGMENT, "data.lookback": 720, "model.linear_skip": True},
    "seg336skip": {**SEGMENT, "data.lookback": 336, "model.linear_skip": True},
    # SegRNN's own univariate ETTh1 settings up to 192 steps: GRU of 256, every window, batch 256
    "segrnn720": {**SEGMENT, "data.lookback": 720, "model.hidden_size": 256,
                  "data.train_stride": 1, "train.batch_size": 256, "optim.lr": 5e-4,
                  "train.epochs": 30, "train.early_stopping": 5},
    "segrnn720skip": {**SEGMENT, "data.lookback": 720, "model.hidden_size": 256,
                      "data.train_stride": 1, "train.batch_size": 256, "optim.lr": 5e-4,
                      "train.epochs": 30, "train.early_stopping": 5, "model.linear_skip": True},
    "seg720slowskip": {**SEGMENT, "data.lookback": 720, "data.train_stride": 1,
                       "train.batch_size": 128, "optim.lr": 3e-4, "train.epochs": 20,
                       "train.early_stopping": 5, "model.linear_skip": True},
    "seg336": {**SEGMENT, "data.lookback": 336},
    "seg336slowskip": {**SEGMENT, "data.lookback": 336, "data.train_stride": 1,
                       "train.batch_size": 128, "optim.lr": 3e-4, "train.epochs": 20,
                       "train.early_stopping": 5, "model.linear_skip": True},
    "seg512skip": {**SEGMENT, "data.lookback": 512, "model.linear_skip": True},
    # smaller and cheaper: a GRU of 64, every fourth training window, at most 10 epochs
    "small720": {**SEGMENT, "data.lookback": 720, "model.hidden_size": 64,
                 "data.train_stride": 4, "train.epochs": 10},
    "small720skip": {**SEGMENT, "data.lookback": 720, "model.hidden_size": 64,
                     "data.train_stride": 4, "train.epochs": 10, "model.linear_skip": True},
    "small336skip": {**SEGMENT, "data.lookback": 336, "model.hidden_size": 64,
                     "data.train_stride": 4, "train.epochs": 10, "model.linear_skip": True},
    # mode M: one shared segment network per channel (channel independence)
    "mseg336ci": {**SEGMENT, "data.lookback": 336, "data.train_stride": 8,
                  "model.channel_independent": True},
    "mseg336ciskip": {**SEGMENT, "data.lookback": 336, "data.train_stride": 8,
                      "model.channel_independent": True, "model.linear_skip": True},
    "mseg336cislowskip": {**SEGMENT, "data.lookback": 336, "data.train_stride": 4,
                          "train.batch_size": 128, "optim.lr": 3e-4, "train.epochs": 20,
                          "train.early_stopping": 5, "model.channel_independent": True,
                          "model.linear_skip": True},
    "mlstm96": {"data.lookback": 96, "data.train_stride": 2, "model.cell": "lstm",
                "model.hidden_size": 128, "optim.lr": 1e-3, "train.batch_size": 64,
                "train.epochs": 15},
}  # fmt: skip


def run(mode: str, horizon: int, name: str, threads: int, data_dir: str | None) -> dict:
    flags = {**BASE, **CANDIDATES[name], "data.mode": mode, "data.horizon": horizon}
    flags.update({"train.seed": 0, "train.threads": threads})
    if data_dir:
        flags["data.data_dir"] = data_dir
    config = resolve(ForecastConfig, flags=flags)
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="rnnkit-ett-select-") as tmp:
        result = fit(ForecastTask(), config, out=Path(tmp) / "run")
    val = result.metrics["validation"]
    return {
        "mode": mode,
        "horizon": horizon,
        "candidate": name,
        "settings": CANDIDATES[name],
        "val_mse": val["mse"],
        "val_mae": val["mae"],
        "epochs": result.metrics["epochs"],
        "best_epoch": result.metrics["best_epoch"],
        "parameters": result.metrics["parameters"],
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def report(entries: list[dict]) -> str:
    lines = ["| mode | H | candidate | val MSE | val MAE | epochs | params | wall s | CPU s |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for e in sorted(entries, key=lambda e: (e["mode"], e["horizon"], e["val_mse"])):
        lines.append(
            f"| {e['mode']} | {e['horizon']} | {e['candidate']} | {e['val_mse']:.4f} | "
            f"{e['val_mae']:.4f} | {e['best_epoch']}/{e['epochs']} | {e['parameters']:,} | "
            f"{e['wall_s']:.0f} | {e['cpu_s']:.0f} |"
        )
    lines += [
        "",
        "| mode | candidate | mean val MSE over H = 96, 192, 336, 720 |",
        "| --- | --- | ---: |",
    ]
    for mode, name, mean in ranking(entries):
        lines.append(f"| {mode} | {name} | {mean:.4f} |")
    return "\n".join(lines)


def ranking(entries: list[dict]) -> list[tuple[str, str, float]]:
    """Candidates run at all four long horizons, by mean validation MSE (the choice: first)."""
    by: dict[tuple[str, str], dict[int, float]] = {}
    for e in entries:
        by.setdefault((e["mode"], e["candidate"]), {})[e["horizon"]] = e["val_mse"]
    full = [
        (m, c, sum(v.values()) / 4) for (m, c), v in by.items() if set(v) >= {96, 192, 336, 720}
    ]
    return sorted(full, key=lambda t: (t[0], t[2]))


def validation_baselines(data_dir: str | None, lookback: int = 336) -> str:
    """The naive and least-squares linear forecasts on the same validation windows (mode S)."""
    import numpy as np

    from rnnkit.data.datasets import ett
    from rnnkit.tasks.forecast import baselines as bl
    from rnnkit.tasks.forecast.data import prepare
    from rnnkit.tasks.forecast.metrics import scaled_metrics

    series, lines = ett.load("ETTh1", data_dir), []
    for h in (96, 192, 336, 720):
        prep = prepare(series, mode="S", targets=("OT",), lookback=lookback, horizon=h,
                       split=ett.informer_split("ETTh1"))  # fmt: skip
        o, z = prep.origins("val"), prep.z_obs
        true = np.stack([z[i + 1 : i + 1 + h] for i in o])
        naive = scaled_metrics(bl.naive(z, o, h), true)["mse"]
        linear = scaled_metrics(bl.linear(z, prep.split.train, o, h, lookback), true)["mse"]
        lines.append(f"S H={h} validation, lookback {lookback}: naive {naive:.4f}, "
                     f"linear {linear:.4f}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="S", choices=["S", "M"])
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--candidate", choices=sorted(CANDIDATES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see ett.py)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--report", action="store_true", help="print the table and stop")
    args = parser.parse_args()
    entries = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    if args.report or not args.candidate:
        print(report(entries))
        print(validation_baselines(args.data_dir or str(REPO.parent / "shared" / "datasets")))
        return
    shared = REPO.parent / "shared" / "datasets"
    if args.data_dir is None and "RNNKIT_DATA" not in os.environ and shared.is_dir():
        args.data_dir = str(shared)
    entry = run(args.mode, args.horizon, args.candidate, args.threads, args.data_dir)
    print(json.dumps({k: v for k, v in entry.items() if k != "settings"}))
    key = (entry["mode"], entry["horizon"], entry["candidate"])
    entries = [e for e in entries if (e["mode"], e["horizon"], e["candidate"]) != key] + [entry]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    main()
