"""ETTh1 forecasting benchmark on the Informer protocol: rnnkit's recurrent models beside the
literature and the baselines.

    .venv/bin/python benchmarks/ett.py --modes S --horizons 96 --seeds 0   # one run, merged in
    .venv/bin/python benchmarks/ett.py --baselines --horizons 96 --only arima   # baselines only
    .venv/bin/python benchmarks/ett.py --table                            # the markdown tables
    .venv/bin/python benchmarks/ett.py --quick                            # 2-epoch smoke run

Protocol (Zhou et al., Informer, AAAI 2021): train = the first 12 months (8,640 hourly rows),
validation = the next 4, test = the 4 after; validation and test windows start ``lookback`` rows
before their border; a StandardScaler fitted on the training rows; MSE and MAE on the
standardised scale over every test window (stride 1). Univariate (S) forecasts OT from OT at
Informer's horizons 24, 48, 168, 336, 720 and the later papers' 96, 192, 336, 720; multivariate
(M) forecasts all 7 columns from all 7 at 96, 192, 336, 720.

Every run goes through the task and the engine (``rnnkit.tasks.forecast`` + ``rnnkit.train.fit``)
exactly as ``rnnkit forecast train --data.ett ETTh1 ...`` does, with the settings chosen on the
validation months by ``benchmarks/ett_select.py``. The baselines (naive last value, seasonal
naive, window mean, the least-squares NLinear, ARIMA, and ETS in mode S) are scored on the same
windows. Informer, PatchTST and NLinear drop the last incomplete test batch (``drop_last=True``
in their loaders); every result here also carries the MSE over the windows such a loader keeps
(batch 32 and 128), so the size of that difference is measured, not guessed. Results are merged
into ``benchmarks/results/ett.json`` run by run (several invocations can build one table), with
wall and CPU time and the load average of each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import resolve
from rnnkit.tasks.forecast import ForecastConfig, ForecastTask
from rnnkit.tasks.forecast.metrics import scaled_metrics
from rnnkit.tasks.forecast.report import baseline_forecasts
from rnnkit.train import fit, load_run

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "ett.json"

# Published test MSE / MAE on ETTh1, (lookback, source) beside each row.
LITERATURE = {
    "S": {
        # Informer paper, Table 1 (univariate ETTh1), lookback chosen per horizon by the authors
        "LSTMa": {24: (0.114, 0.272), 48: (0.193, 0.358), 168: (0.236, 0.392),
                  336: (0.590, 0.698), 720: (0.683, 0.768)},
        "Informer": {24: (0.098, 0.247), 48: (0.158, 0.319), 168: (0.183, 0.346),
                     336: (0.222, 0.387), 720: (0.269, 0.435)},
        # Zeng et al. 2023, univariate table, lookback 336 (MSE as cited; MAE not cited)
        "NLinear": {96: (0.053, None), 192: (0.069, None), 336: (0.081, None),
                    720: (0.080, None)},
        # Nie et al. 2023, univariate table, PatchTST/64: lookback 512 (as cited)
        "PatchTST/64": {96: (0.059, None), 192: (0.074, None), 336: (0.076, None),
                        720: (0.087, None)},
    },
    "M": {
        # LTSF-Linear's LTSF-Benchmark.md, multivariate ETTh1, lookback 96
        "Informer": {96: (0.865, 0.713), 192: (1.008, 0.792), 336: (1.107, 0.809),
                     720: (1.181, 0.865)},
        "NLinear": {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443),
                    720: (0.472, 0.490)},
        # SegRNN README, lookback 96, after its last-batch fix (every test window)
        "SegRNN": {96: (0.368, 0.395), 192: (0.408, 0.419), 336: (0.444, 0.440),
                   720: (0.446, 0.457)},
    },
}  # fmt: skip
SOURCES = {
    "LSTMa": "Informer paper (Zhou et al. 2021), Table 1; drop_last, scaler as in the paper",
    "Informer": "S: Informer paper, Table 1; M: LTSF-Linear LTSF-Benchmark.md (lookback 96)",
    "NLinear": "S: Zeng et al. 2023 univariate table, lookback 336, as cited; M: LTSF-Benchmark.md",
    "PatchTST/64": "Nie et al. 2023 univariate table, lookback 512, as cited",
    "SegRNN": "SegRNN README table for lookback 96 (after its test-loader fix)",
}
HORIZONS = {"S": (24, 48, 96, 168, 192, 336, 720), "M": (96, 192, 336, 720)}
INFORMER_HORIZONS = (24, 48, 168, 336, 720)
LONG_HORIZONS = (96, 192, 336, 720)
# ETS on 7 channels costs ~100 s of CPU per horizon: mode M leaves it out, ARIMA stays.
BASELINES = {
    "S": ("naive", "seasonal_naive", "mean", "linear", "arima", "ets"),
    "M": ("naive", "seasonal_naive", "mean", "linear", "arima"),
}
DROP_LAST = (32, 128)  # the test batch sizes of the papers' loaders (Informer/NLinear, PatchTST)

# Chosen on the validation months (benchmarks/ett_select.py; docs/forecast.md shows that table).
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
SETTINGS = {
    # candidate "seg336slowskip": the lowest mean validation MSE over H = 96 ... 720
    "S": {**SEGMENT, "data.lookback": 336, "data.train_stride": 1, "train.batch_size": 128,
          "optim.lr": 3e-4, "train.epochs": 20, "train.early_stopping": 5,
          "model.linear_skip": True},
    # mode M: the earlier benchmark's LSTM (its table, one seed, is the one in docs/forecast.md;
    # a validation-chosen, 3-seed M run did not fit this machine's budget)
    "M": {"data.lookback": 96, "data.train_stride": 2, "model.cell": "lstm",
          "model.strategy": "direct", "model.hidden_size": 128, "optim.lr": 1e-3,
          "train.batch_size": 64, "train.epochs": 15},
}  # fmt: skip
COMMON = {
    "data.ett": "ETTh1",
    "model.norm": "last",
    "optim.clip_norm": 1.0,
    "train.early_stopping": 3,
    "train.progress": False,
    "train.eval_train": False,
}


def test_predictions(task: ForecastTask, run_dir: Path) -> tuple[np.ndarray, object]:
    """(N, H, C) scaled forecasts of every test window by a run's best checkpoint, and the
    prepared series (its ``origins("test")`` are the windows' origins)."""
    run = load_run(task, run_dir)
    data = task.load_data(run.config)
    past = data.test[np.arange(len(data.test))]["past"]
    with torch.no_grad():
        pred = torch.cat([run.model(chunk) for chunk in past.split(1024)])
    return pred.double().numpy(), data.extra


def kept(n: int, batch: int) -> int:
    """Windows a test loader with ``drop_last=True`` and this batch size scores."""
    return n - n % batch


def run_one(mode: str, horizon: int, seed: int, args, root: Path) -> dict:
    """Train and test one model (and the naive forecast, for the drop-last table)."""
    flags = {**COMMON, **SETTINGS[mode], "data.mode": mode, "data.horizon": horizon}
    flags.update({"train.seed": seed, "train.threads": args.threads, "eval.baselines": "naive"})
    if args.data_dir:
        flags["data.data_dir"] = args.data_dir
    if args.quick:
        flags["train.epochs"] = 2
    config = resolve(ForecastConfig, flags=flags)
    task = ForecastTask()
    started, cpu = time.perf_counter(), time.process_time()
    out = root / f"{mode}-{horizon}-seed{seed}"
    parts = out / "bench_parts.json"  # wall and CPU seconds of earlier, stopped parts
    earlier = json.loads(parts.read_text()) if parts.exists() else []
    try:
        if (out / "checkpoints" / "last").is_dir():  # --keep: continue a stopped run exactly
            result = fit(task, config, resume=out)
        else:
            result = fit(task, config, out=out)
    except BaseException:
        if out.is_dir():
            part = [time.perf_counter() - started, time.process_time() - cpu]
            parts.write_text(json.dumps([*earlier, part]))
        raise
    seconds = time.perf_counter() - started + sum(w for w, _ in earlier)
    cpu_seconds = time.process_time() - cpu + sum(c for _, c in earlier)
    pred, prep = test_predictions(task, result.run_dir)
    origins = prep.origins("test")
    true = np.stack([prep.z_obs[o + 1 : o + 1 + horizon, : prep.n_targets] for o in origins])
    forecasts = {"model": pred}
    base, skipped = baseline_forecasts(prep, origins, ("naive",))
    forecasts.update(base)
    scores = {}
    for name, f in forecasts.items():
        scores[name] = scaled_metrics(f, true)
        for b in DROP_LAST:
            k = kept(len(true), b)
            scores[name][f"mse_drop_last_{b}"] = scaled_metrics(f[:k], true[:k])["mse"]
    if abs(scores["model"]["mse"] - result.metrics["test"]["mse"]) > 1e-6:
        raise RuntimeError("the reloaded model's test MSE differs from the engine's")
    return {
        **scores.pop("model"),
        "baselines": scores,
        "skipped_baselines": skipped,
        "windows": len(true),
        "parameters": result.metrics["parameters"],
        "epochs": result.metrics["epochs"],
        "best_epoch": result.metrics["best_epoch"],
        "val_mse": result.metrics["validation"]["mse"],
        "parts": len(earlier) + 1,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def score_baselines(mode: str, horizon: int, args, names: tuple[str, ...]) -> dict:
    """Every baseline of ``mode`` on the test windows of the benchmark's lookback."""
    flags = {**COMMON, **SETTINGS[mode], "data.mode": mode, "data.horizon": horizon}
    if args.data_dir:
        flags["data.data_dir"] = args.data_dir
    config = resolve(ForecastConfig, flags=flags)
    prep = ForecastTask().load_data(config).extra
    origins = prep.origins("test")
    true = np.stack([prep.z_obs[o + 1 : o + 1 + horizon, : prep.n_targets] for o in origins])
    started, cpu = time.perf_counter(), time.process_time()
    forecasts, skipped = baseline_forecasts(prep, origins, names)
    scores = {"skipped": skipped}
    for name, f in forecasts.items():
        scores[name] = scaled_metrics(f, true)
        for b in DROP_LAST:
            k = kept(len(true), b)
            scores[name][f"mse_drop_last_{b}"] = scaled_metrics(f[:k], true[:k])["mse"]
    timing = {
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    scores["seconds"] = {",".join(names): timing}
    return scores


def summarise(runs: dict[str, dict], baselines: dict) -> dict:
    mse = [r["mse"] for r in runs.values()]
    mae = [r["mae"] for r in runs.values()]
    return {
        "seeds": sorted(int(s) for s in runs),
        "mse": statistics.mean(mse),
        "mse_std": statistics.pstdev(mse),
        "mae": statistics.mean(mae),
        "mae_std": statistics.pstdev(mae),
        "mse_drop_last": {
            b: statistics.mean(r[f"mse_drop_last_{b}"] for r in runs.values()) for b in DROP_LAST
        },
        "baselines": {**runs[min(runs)]["baselines"], **baselines},
        "windows": runs[min(runs)]["windows"],
        "parameters": runs[min(runs)]["parameters"],
        "seconds": sum(r["seconds"] for r in runs.values()),
        "cpu_seconds": sum(r["cpu_seconds"] for r in runs.values()),
        "load": [r["load_average"][0] for r in runs.values()],
    }


def _cell(mse: float, mae: float | None, digits: int = 4) -> str:
    """Measured values with 4 decimals (differences of a few 1e-4 decide the comparisons),
    cited ones as published."""
    m = f"{mse:.{digits}f}"
    return m if mae is None else f"{m} / {mae:.{digits}f}"


def table(mode: str, results: dict, horizons, literature: tuple[str, ...]) -> str:
    """Markdown: ours (mean ± std over seeds), the cited rows, the measured baselines."""
    baselines = BASELINES[mode]
    head = ["H", "rnnkit MSE (mean ± std)", "MAE", *[f"{m} (cited)" for m in literature],
            *baselines, "seeds", "wall / CPU s, all seeds"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---:"] * len(head)) + " |"]
    for h in horizons:
        r = results.get(str(h))
        if r is None:
            continue
        cited = []
        for m in literature:
            v = LITERATURE[mode][m].get(h)
            cited.append(_cell(*v, digits=3) if v else "–")
        base = [_cell(*(r["baselines"][b][k] for k in ("mse", "mae"))) if b in r["baselines"]
                else "–" for b in baselines]  # fmt: skip
        lines.append(
            f"| {h} | {r['mse']:.4f} ± {r['mse_std']:.4f} | {r['mae']:.4f} | "
            + " | ".join(cited + base)
            + f" | {','.join(map(str, r['seeds']))} | {r['seconds']:.0f} / {r['cpu_seconds']:.0f} |"
        )
    return "\n".join(lines)


def drop_last_table(mode: str, results: dict) -> str:
    head = ["H", "windows", "rnnkit: all", *[f"rnnkit: first {b}·k" for b in DROP_LAST],
            "naive: all", *[f"naive: first {b}·k" for b in DROP_LAST]]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---:"] * len(head)) + " |"]
    for h in sorted(map(int, results)):
        r, nv = results[str(h)], results[str(h)]["baselines"]["naive"]
        cells = [str(r["windows"]), f"{r['mse']:.4f}"]
        cells += [f"{r['mse_drop_last'][str(b)]:.4f}" for b in DROP_LAST]
        cells += [f"{nv['mse']:.4f}"] + [f"{nv[f'mse_drop_last_{b}']:.4f}" for b in DROP_LAST]
        lines.append(f"| {h} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_tables(report: dict) -> None:
    base = report.get("baselines", {})
    s = {
        h: summarise(r, base.get("S", {}).get(h, {}))
        for h, r in report.get("runs", {}).get("S", {}).items()
    }
    m = {
        h: summarise(r, base.get("M", {}).get(h, {}))
        for h, r in report.get("runs", {}).get("M", {}).items()
    }
    s = json.loads(json.dumps(s))  # str keys throughout, as in the file
    m = json.loads(json.dumps(m))
    print("ETTh1 S, Informer's horizons\n")
    print(table("S", s, INFORMER_HORIZONS, ("LSTMa", "Informer")))
    print("\nETTh1 S, horizons 96-720\n")
    print(table("S", s, LONG_HORIZONS, ("NLinear", "PatchTST/64")))
    if m:
        print("\nETTh1 M\n")
        print(table("M", m, LONG_HORIZONS, ("Informer", "NLinear", "SegRNN")))
    print("\nMSE over every test window vs the windows a drop_last loader keeps (S)\n")
    print(drop_last_table("S", s))
    for mode, res in (("S", s), ("M", m)):
        for h in LONG_HORIZONS:
            r = res.get(str(h))
            if r is None:
                continue
            rivals = {"arima": r["baselines"]["arima"]["mse"],
                      "linear": r["baselines"]["linear"]["mse"]}  # fmt: skip
            if mode == "S":
                rivals["NLinear (cited)"] = LITERATURE["S"]["NLinear"][h][0]
            gaps = ", ".join(f"{k} {r['mse'] - v:+.4f}" for k, v in rivals.items())
            print(f"{mode} H={h}: rnnkit minus rival MSE: {gaps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="S", help="S, M or S,M")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds (mean ± std over them)")
    parser.add_argument("--horizons", default="", help="e.g. 96,720 (default: the protocol's)")
    # One thread: on a busy 2-core machine, two torch threads made a GRU step 16x slower
    # (168 vs 10 ms for batch 64, width 64, 15 steps) while they wait on each other.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--data-dir", default=None, help="folder holding ETT-small/")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 seed, 1 horizon")
    parser.add_argument("--table", action="store_true", help="print the tables of --out")
    parser.add_argument(
        "--baselines", action="store_true", help="score the baselines (deterministic) only"
    )
    parser.add_argument("--only", default="", help="with --baselines: e.g. arima,ets")
    parser.add_argument("--keep", default="", help="keep run directories here; resume them")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    if args.table:
        print_tables(report)
        return
    shared = REPO.parent / "shared" / "datasets"
    if args.data_dir is None and "RNNKIT_DATA" not in os.environ and shared.is_dir():
        args.data_dir = str(shared)  # the checkout's neighbouring data sets
    torch.set_num_threads(args.threads)
    report.update(
        protocol="Informer ETTh1, 12/4/4 months, StandardScaler on train, every test window",
        settings={"common": COMMON, **SETTINGS}, baseline_names=BASELINES, sources=SOURCES,
        literature={m: {k: {str(h): v for h, v in d.items()} for k, d in lit.items()}
                    for m, lit in LITERATURE.items()},
        machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} threads",
    )  # fmt: skip
    seeds = [int(s) for s in args.seeds.split(",")][: 1 if args.quick else None]
    if args.baselines:
        for mode in args.modes.split(","):
            for h in (
                [int(h) for h in args.horizons.split(",")] if args.horizons else HORIZONS[mode]
            ):
                names = tuple(args.only.split(",")) if args.only else BASELINES[mode]
                scores = score_baselines(mode, h, args, names)
                stored = report.setdefault("baselines", {}).setdefault(mode, {})
                entry = stored.setdefault(str(h), {})
                entry.setdefault("seconds", {}).update(scores.pop("seconds"))
                entry.setdefault("skipped", {}).update(scores.pop("skipped"))
                entry.update(scores)
                print(
                    f"{mode} H={h} baselines: "
                    + ", ".join(
                        f"{k} {v['mse']:.4f}"
                        for k, v in scores.items()
                        if isinstance(v, dict) and "mse" in v
                    ),
                    flush=True,
                )
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(report, indent=1) + "\n")
        return
    # --keep DIR: runs live in DIR, and a run stopped part-way (a time limit, Ctrl-C) continues
    # from its last checkpoint when the same command is given again (the engine's exact resume;
    # the times then count the last part only)
    with tempfile.TemporaryDirectory(prefix="rnnkit-ett-") as tmp:
        tmp = args.keep or tmp
        for mode in args.modes.split(","):
            horizons = [int(h) for h in args.horizons.split(",")] if args.horizons else None
            horizons = horizons or (HORIZONS[mode][:1] if args.quick else HORIZONS[mode])
            for h in horizons:
                for seed in seeds:
                    r = run_one(mode, h, seed, args, Path(tmp))
                    runs = report.setdefault("runs", {}).setdefault(mode, {})
                    runs.setdefault(str(h), {})[str(seed)] = r
                    print(f"{mode} H={h} seed {seed}: MSE {r['mse']:.4f} MAE {r['mae']:.4f} "
                          f"({r['seconds']:.0f} s wall, {r['cpu_seconds']:.0f} s CPU, "
                          f"load {r['load_average']})", flush=True)  # fmt: skip
                    if not args.quick:
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
