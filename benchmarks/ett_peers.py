"""ETTh1 univariate: rnnkit's LSTM beside Darts' and NeuralForecast's LSTMs, in one run.

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install torch==2.13.0     # first, so that the peers keep this torch
    /tmp/peers-venv/bin/pip install darts neuralforecast
    .venv/bin/python benchmarks/ett_peers.py --peer-python /tmp/peers-venv/bin/python

The peers live in their own environment and run as subprocesses (``ett_peers_worker.py``); they
get the same standardised series (the scaler fitted on the training rows), the same borders and
the same forecast origins, and return their forecasts of every test window, which are scored
here with rnnkit's metric code (``rnnkit.tasks.forecast.metrics.scaled_metrics``). Every model is
a one-layer LSTM of the same width reading the same lookback with a direct H-step output and
per-window normalisation, trained with Adam on the MSE with the same learning rate, batch size,
epoch budget and early-stopping patience on the validation months, and restored to its best
validation epoch. Prints a markdown table and writes ``benchmarks/results/ett_peers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import resolve
from rnnkit.data.datasets import ett
from rnnkit.tasks.forecast import ForecastConfig, ForecastTask
from rnnkit.tasks.forecast.data import prepare
from rnnkit.tasks.forecast.metrics import scaled_metrics
from rnnkit.train import fit, load_run

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("ett_peers_worker.py")
sys.path.insert(0, str(Path(__file__).parent))
from ett import COMMON, SETTINGS  # noqa: E402  the benchmark's own settings, one source

# One LSTM for all three libraries.
SHARED = {
    "lookback": 96,
    "hidden_size": 64,
    "epochs": 4,
    "patience": 3,
    "batch_size": 64,
    "lr": 1e-3,
}
PEERS = ("darts", "neuralforecast")


def rnnkit_run(flags: dict, horizon: int, seed: int, threads: int, data_dir, root: Path) -> dict:
    """Train through the engine; time a separate forecast of every test window."""
    flags = {
        **COMMON,
        **flags,
        "data.mode": "S",
        "data.horizon": horizon,
        "train.seed": seed,
        "train.threads": threads,
        "eval.baselines": "naive",
        "data.data_dir": data_dir,
    }
    config = resolve(ForecastConfig, flags=flags)
    task = ForecastTask()
    started, cpu = time.perf_counter(), time.process_time()
    result = fit(task, config, out=root / f"rnnkit-{horizon}-{len(os.listdir(root))}")
    train_s = time.perf_counter() - started
    run = load_run(task, result.run_dir)
    data = task.load_data(run.config)
    past = data.test[np.arange(len(data.test))]["past"]  # (N, L, 1), every test window
    started = time.perf_counter()
    with torch.no_grad():
        pred = torch.cat([run.model(chunk) for chunk in past.split(1024)]).double().numpy()
    predict_s = time.perf_counter() - started
    return {
        "pred": pred[..., 0],
        "train_s": train_s,
        "predict_s": predict_s,
        "cpu_s": time.process_time() - cpu,
        "parameters": result.metrics["parameters"],
        "epochs": result.metrics["epochs"],
        "engine_test_mse": result.metrics["test"]["mse"],
    }


def peer_run(python: str, library: str, prep, horizon: int, seed: int, threads: int) -> dict:
    origins = prep.origins("test")
    spec = {**SHARED, "library": library, "horizon": horizon, "seed": seed, "threads": threads}
    borders = (prep.split.train[1], prep.split.val[1], prep.split.test[1])
    with tempfile.TemporaryDirectory(prefix="rnnkit-peers-") as tmp:
        source, target = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(
            source,
            z=prep.z_obs[:, 0],
            borders=np.array(borders),
            origins=origins,
            spec=json.dumps(spec),
        )
        started = time.perf_counter()
        done = subprocess.run(
            [python, str(WORKER), str(source), str(target)], capture_output=True, text=True
        )
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
        out = np.load(target)
        info = json.loads(str(out["info"]))
        info["process_s"] = time.perf_counter() - started
        return {"pred": out["pred"], **info}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("--horizons", default="96,192,336,720")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, every library")
    parser.add_argument("--models", default="rnnkit,rnnkit-segment,darts,neuralforecast")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ett_peers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {"rows": {}}
    report.update(
        shared=SHARED,
        seed=args.seed,
        threads=args.threads,
        protocol="Informer ETTh1 S (OT), StandardScaler on train rows, every test window",
    )
    series = ett.load("ETTh1", args.data_dir)
    lstm = {
        "data.lookback": SHARED["lookback"],
        "model.cell": "lstm",
        "model.strategy": "direct",
        "model.hidden_size": SHARED["hidden_size"],
        "train.epochs": SHARED["epochs"],
        "train.early_stopping": SHARED["patience"],
        "train.batch_size": SHARED["batch_size"],
        "optim.lr": SHARED["lr"],
        "data.train_stride": 1,
    }
    for horizon in map(int, args.horizons.split(",")):
        for name in args.models.split(","):
            lookback = SETTINGS["S"]["data.lookback"] if name == "rnnkit-segment" else 96
            prep = prepare(
                series,
                mode="S",
                targets=("OT",),
                lookback=lookback,
                horizon=horizon,
                split=ett.informer_split("ETTh1"),
            )
            true = np.stack([prep.z_obs[o + 1 : o + 1 + horizon, 0] for o in prep.origins("test")])
            with tempfile.TemporaryDirectory(prefix="rnnkit-peers-") as tmp:
                if name == "rnnkit":
                    row = rnnkit_run(
                        lstm, horizon, args.seed, args.threads, args.data_dir, Path(tmp)
                    )
                elif name == "rnnkit-segment":
                    row = rnnkit_run(
                        SETTINGS["S"], horizon, args.seed, args.threads, args.data_dir, Path(tmp)
                    )
                else:
                    row = peer_run(args.peer_python, name, prep, horizon, args.seed, args.threads)
            if "pred" in row:
                row.update(scaled_metrics(row.pop("pred")[..., None], true[..., None]))
                row["windows"] = len(true)
            row["load_average"] = [round(x, 2) for x in os.getloadavg()]
            report["rows"][f"{name}@{horizon}"] = row
            print(name, horizon, {k: v for k, v in row.items() if k != "pred"}, flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))


def table(report: dict) -> str:
    """The markdown table of the runs in ``report`` (one row per library and horizon)."""
    lines = [
        "| H | model | MSE | MAE | train s | predict s | CPU s | parameters | epochs |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, row in sorted(report["rows"].items(), key=lambda kv: int(kv[0].split("@")[1])):
        name, horizon = key.split("@")
        if "error" in row:
            lines.append(f"| {horizon} | {name} | failed: {row['error']} | | | | | | |")
            continue
        predict = "in train" if row.get("predict_in_train") else f"{row['predict_s']:.1f}"
        lines.append(
            f"| {horizon} | {name} | {row['mse']:.4f} | {row['mae']:.4f} | {row['train_s']:.0f} | "
            f"{predict} | {row['cpu_s']:.0f} | {row['parameters']:,} | {row.get('epochs', '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
