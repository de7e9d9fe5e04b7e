"""The video tables: Moving MNIST 10 -> 10, the motion set, and two human-motion sensor problems.

Three parts, each run on its own (one ``flock`` job per training run is the etiquette here):

* ``moving-mnist``: ``rnnkit video train --preset moving-mnist`` runs (``--train`` runs one per
  seed, in this process). The table reads each run's ``metrics.json`` (test MSE, MAE, SSIM of
  the model, copy-last-frame and all-zeros on the seeded 10,000-clip test set), its validation
  MSE per epoch (the curve) and the wall time; ``--time-file`` adds the ``/usr/bin/time -v``
  report of a CLI run (CPU time). The cited figures: PredRNN (Wang et al., NeurIPS 2017),
  Table 1, ConvLSTM: MSE 103.3, SSIM 0.707 (per frame, 10 -> 10, standard ``mnist_test_seq``).
* ``motion``: the motion set (direction of travel; 4 classes, chance 25%) for the three clip
  models (presets ``motion-convlstm``, ``motion-cnn-lstm``, ``motion-frame-cnn``), 3 seeds.
* ``archive``: BasicMotions and GunPoint from the UEA/UCR archive (the ``.ts`` files inside the
  sktime wheel, ``--source``) through ``rnnkit classify --data``: a small grid chosen on the
  validation split (20% of train) with seed 0, then 3 seeds of the chosen setting on test;
  beside them a 1-nearest-neighbour DTW (full window, squared Euclidean point cost; dependent
  DTW for the 6-channel BasicMotions) computed here on the same files, and the archive's
  published 1-NN DTW accuracies.

    python benchmarks/video.py motion --train
    python benchmarks/video.py archive --train --source wheels/sktime-1.2.0-py3-none-any.whl
    python benchmarks/video.py moving-mnist --runs runs/video --time-file RUN.stderr
    python benchmarks/video.py table                # print every table from the JSON

Writes ``benchmarks/results/video.json`` (each part under its own key, with wall and CPU time
and the load average of every run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "video.json"
CITED = {  # the figures the tables compare with (see the module docstring and docs/video.md)
    "predrnn_convlstm_mse": 103.3,
    "predrnn_convlstm_ssim": 0.707,
    "openstl_convlstm_mse": 29.8,
    "BasicMotions_1nn_dtw": 0.975,
    "GunPoint_1nn_dtw": 0.907,
}
MOTION_MODELS = ("motion-convlstm", "motion-cnn-lstm", "motion-frame-cnn")
ARCHIVE_GRID = [  # classify settings tried on validation (each with the flags in ARCHIVE_BASE)
    {"model.cell": "gru", "model.hidden_size": 64, "model.pooling": "last"},
    {"model.cell": "gru", "model.hidden_size": 64, "model.pooling": "mean"},
    {"model.cell": "lstm", "model.hidden_size": 64, "model.pooling": "mean"},
    {"model.cell": "gru", "model.hidden_size": 32, "model.pooling": "attention"},
]
ARCHIVE_BASE = {
    "data.val_fraction": 0.2,
    "train.batch_size": 8,
    "train.epochs": 60,
    "train.early_stopping": 0,
    "optim.lr": 3e-3,
    "train.progress": False,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fit_run(task_name: str, flags: dict, out: Path, preset: str | None = None) -> dict:
    """Train one run in this process; its metrics with wall/CPU time and the load average."""
    from rnnkit.config import resolve
    from rnnkit.tasks import get_task
    from rnnkit.train import fit

    task = get_task(task_name)
    flags = {**(task.presets[preset] if preset else {}), **flags}  # as --preset: flags win
    config = resolve(task.config_class, flags=flags)
    load, wall, cpu = os.getloadavg(), time.perf_counter(), _cpu()
    metrics = fit(task, config, out=out).metrics
    timing = {
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(_cpu() - cpu, 1),
        "load_before": load,
        "load_after": os.getloadavg(),
    }
    (Path(out) / "timing.json").write_text(json.dumps(timing) + "\n")  # read by later tables
    return {"metrics": metrics, **timing, "run_dir": str(out)}


def read_run(out: Path) -> dict | None:
    """A finished run's metrics (and its timing.json when this script trained it)."""
    if not (out / "metrics.json").is_file():
        return None
    timing = out / "timing.json"
    extra = json.loads(timing.read_text()) if timing.is_file() else {}
    return {"metrics": json.loads((out / "metrics.json").read_text()), **extra}


# ------------------------------------------------------------------------------ moving mnist
def moving_mnist(args) -> dict:
    if args.train:
        for seed in args.seeds:
            out = Path(args.runs) / f"moving-mnist-seed{seed}"
            flags = {"data.data_dir": args.mnist, "train.seed": seed, "train.progress": False}
            fit_run("video", flags, out, preset="moving-mnist")
    rows = []
    for run in sorted(Path(args.runs).glob("moving-mnist*")):
        if not (run / "metrics.json").is_file():
            continue
        m = json.loads((run / "metrics.json").read_text())
        log = [line.split(",") for line in (run / "log.csv").read_text().splitlines()]
        head, body = log[0], log[1:]
        col = {name: i for i, name in enumerate(head)}
        curve = [
            {"epoch": int(r[col["epoch"]]), "train_loss": float(r[col["train_loss"]]),
             "val_mse": float(r[col["val_mse"]]), "time_s": float(r[col["time_s"]])}
            for r in body
        ]  # fmt: skip
        model = json.loads((run / "config.json").read_text())["model"]
        row = {
            "run": str(run),
            "model": {
                k: model[k]
                for k in ("patch", "hidden_channels", "num_layers", "kernel_size", "loss")
            },  # fmt: skip
            "parameters": m["parameters"],
            "validation_mse": m["validation"]["mse"],
            "test": {k: m["test"][k] for k in m["test"] if not k.endswith("_per_frame")},
            "test_mse_per_frame": m["test"]["mse_per_frame"],
            "epochs": m["epochs"],
            "best_epoch": m["best_epoch"],
            "training_s": round(sum(c["time_s"] for c in curve), 1),
            "run_wall_s": m["wall_time_s"],
            "curve": curve,
        }
        time_file = Path(args.time_file) if args.time_file else run.with_suffix(".stderr")
        if time_file.is_file():
            row["time_v"] = _time_v(time_file.read_text())
        load_file = run.with_suffix(".load")
        if load_file.is_file():
            loads = [float(line.split()[1]) for line in load_file.read_text().splitlines()]
            row["load_1min"] = {"min": min(loads), "median": statistics.median(loads),
                                "max": max(loads), "samples": len(loads)}  # fmt: skip
        rows.append(row)
    return {"rows": rows, "cited": {k: v for k, v in CITED.items() if "mse" in k or "ssim" in k}}


def _time_v(text: str) -> dict:
    """Wall, user and system seconds from a ``/usr/bin/time -v`` report."""
    found = {}
    for key, pattern in (("user_s", r"User time \(seconds\): ([\d.]+)"),
                         ("system_s", r"System time \(seconds\): ([\d.]+)"),
                         ("wall", r"Elapsed \(wall clock\) time .*: ([\d:.]+)")):  # fmt: skip
        match = re.search(pattern, text)
        if match:
            found[key] = match.group(1)
    return found


# ------------------------------------------------------------------------------------ motion
def motion(args) -> dict:
    rows = []
    for preset in MOTION_MODELS:
        if preset not in args.models.split(","):
            continue
        runs = []
        for seed in args.seeds:
            out = Path(args.runs) / f"{preset}-seed{seed}"
            result = read_run(out)
            if result is None and args.train:
                flags = {"data.data_dir": args.mnist, "train.seed": seed, "train.progress": False}
                result = fit_run("video", flags, out, preset=preset)
            if result is None:
                continue
            m = result["metrics"]
            runs.append({"seed": seed, "test_accuracy": m["test"]["accuracy"],
                         "val_accuracy": m["validation"]["accuracy"], "parameters": m["parameters"],
                         **{k: result[k] for k in ("wall_s", "cpu_s", "load_before", "load_after")
                            if k in result}})  # fmt: skip
        if runs:
            acc = [r["test_accuracy"] for r in runs]
            rows.append({"model": preset, "runs": runs, "mean": statistics.mean(acc),
                         "std": statistics.stdev(acc) if len(acc) > 1 else 0.0})  # fmt: skip
    return {"rows": rows, "chance": 0.25}


# ----------------------------------------------------------------------------------- archive
def dtw_1nn(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """1-NN labels under full-window DTW with squared Euclidean point cost (dependent DTW).

    D[t, s] = c(t, s) + min(D[t-1, s], D[t, s-1], D[t-1, s-1]), for all test x train pairs at
    once: x (N, T, D).
    """
    M, N, T = len(test_x), len(train_x), train_x.shape[1]
    prev = np.full((M, N, T + 1), np.inf)
    prev[:, :, 0] = 0.0
    for t in range(T):
        cost = ((test_x[:, None, t, None, :] - train_x[None, :, :, :]) ** 2).sum(-1)  # (M, N, T)
        row = np.full((M, N, T + 1), np.inf)
        for s in range(T):
            best = np.minimum(np.minimum(prev[:, :, s + 1], row[:, :, s]), prev[:, :, s])
            row[:, :, s + 1] = cost[:, :, s] + best
        prev = row  # its column 0 stays inf: the path starts at (0, 0) only
    return train_y[np.argmin(prev[:, :, T], axis=1)]


def train_archive(name: str, path: Path, args) -> dict:
    """The grid on validation (seed 0), then the chosen setting over ``args.seeds`` on test."""
    keep = ("wall_s", "cpu_s", "load_before", "load_after")
    grid = []
    for i, setting in enumerate(ARCHIVE_GRID):
        flags = {**ARCHIVE_BASE, **setting, "data.path": str(path), "train.seed": 0}
        result = fit_run("classify", flags, Path(args.runs) / f"{name}-grid{i}")
        val = result["metrics"]["validation"]["accuracy"]
        grid.append({"setting": setting, "val_accuracy": val, **{k: result[k] for k in keep}})
    best = max(range(len(grid)), key=lambda i: grid[i]["val_accuracy"])  # the first of ties
    runs = []
    for seed in args.seeds:
        flags = {**ARCHIVE_BASE, **ARCHIVE_GRID[best], "data.path": str(path), "train.seed": seed}
        result = fit_run("classify", flags, Path(args.runs) / f"{name}-seed{seed}")
        runs.append({"seed": seed, "test_accuracy": result["metrics"]["test"]["accuracy"],
                     **{k: result[k] for k in keep}})  # fmt: skip
    acc = [r["test_accuracy"] for r in runs]
    return {
        "grid": grid,
        "chosen": ARCHIVE_GRID[best],
        "settings": ARCHIVE_BASE,
        "runs": runs,
        "mean": statistics.mean(acc),
        "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
    }


def archive(args) -> dict:
    from rnnkit.data.datasets.ts_archive import load_archive

    rows = []
    for name in ("BasicMotions", "GunPoint"):
        arrays = load_archive(name, args.source)
        start = time.perf_counter()
        pred = dtw_1nn(arrays["x_train"].astype(np.float64), arrays["y_train"],
                       arrays["x_test"].astype(np.float64))  # fmt: skip
        dtw = float((pred == arrays["y_test"]).mean())
        row = {"problem": name, "our_1nn_dtw": dtw, "dtw_s": round(time.perf_counter() - start, 1),
               "published_1nn_dtw": CITED[f"{name}_1nn_dtw"],
               "shape": {k: list(v.shape) for k, v in arrays.items()}}  # fmt: skip
        if args.train:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{name}.npz"
                np.savez(path, **arrays)
                row.update(train_archive(name, path, args))
        rows.append(row)
    return {"rows": rows}


# ------------------------------------------------------------------------------------ tables
def print_tables(results: dict) -> None:
    mm = results.get("moving-mnist")
    if mm:
        print("Moving MNIST 10 -> 10, seeded 10,000-clip test set (per-frame MSE/MAE: sum over "
              "pixels)")  # fmt: skip
        print(f"{'method':28s} {'MSE':>8s} {'MAE':>8s} {'SSIM':>6s}")
        for row in mm["rows"]:
            t = row["test"]
            for label, key in (
                ("ConvLSTM (" + Path(row["run"]).name + ")", ""),
                ("copy last frame", "copy_last_"),
                ("all zeros", "zeros_"),
            ):
                print(f"{label:28s} {t[key + 'mse']:8.1f} {t[key + 'mae']:8.1f} "
                      f"{t[key + 'ssim']:6.3f}")  # fmt: skip
            print(f"  training {row['training_s'] / 60:.1f} min over {row['epochs']} epochs; "
                  f"best epoch {row['best_epoch']}; time -v {row.get('time_v', {})}")  # fmt: skip
        c = mm["cited"]
        print(f"{'PredRNN Table 1, ConvLSTM':28s} {c['predrnn_convlstm_mse']:8.1f} {'':8s} "
              f"{c['predrnn_convlstm_ssim']:6.3f}\n")  # fmt: skip
    mo = results.get("motion")
    if mo:
        print(f"Motion set (4 directions, chance {mo['chance']:.0%}): test accuracy")
        for row in mo["rows"]:
            print(f"  {row['model']:18s} {row['mean']:.3f} ± {row['std']:.3f} "
                  f"({len(row['runs'])} seeds)")  # fmt: skip
        print()
    ar = results.get("archive")
    if ar:
        print("UEA/UCR archive: test accuracy")
        for row in ar["rows"]:
            ours = f"{row['mean']:.3f} ± {row['std']:.3f}" if "mean" in row else "(not trained)"
            print(
                f"  {row['problem']:12s} rnnkit classify {ours}; 1-NN DTW here "
                f"{row['our_1nn_dtw']:.3f}; published 1-NN DTW {row['published_1nn_dtw']:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["moving-mnist", "motion", "archive", "table"])
    parser.add_argument("--train", action="store_true", help="train the runs (else read them)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    parser.add_argument("--models", default=",".join(MOTION_MODELS), help="motion: presets")
    parser.add_argument("--runs", default="runs/video", help="folder of the run directories")
    parser.add_argument("--mnist", default="../shared/datasets/mnist", help="MNIST IDX folder")
    parser.add_argument("--source", help="archive: the sktime/aeon wheel or a folder of .ts")
    parser.add_argument("--time-file", help="moving-mnist: a /usr/bin/time -v report")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    if args.part != "table":
        part = {"moving-mnist": moving_mnist, "motion": motion, "archive": archive}[args.part]
        results[args.part] = {**part(args), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(results)


if __name__ == "__main__":
    main()
