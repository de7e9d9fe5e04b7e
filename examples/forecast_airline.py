"""Forecast the monthly airline passengers a year ahead, and compare with the baselines.

    .venv/bin/python examples/forecast_airline.py [--data-dir ../shared/datasets] [--out DIR]

144 months (1949-1960): the last 24 are the test period, the 24 before validation. An LSTM reads
24 months and forecasts the next 12 directly; the forecast is only worth showing next to the
naive (random-walk) and seasonal-naive forecasts on the same windows, so those come first.
The same run from the command line::

    rnnkit forecast train --csv airline-passengers.csv --data.time_column Month \\
        --target Passengers --lookback 24 --horizon 12 --data.val 24 --data.test 24 \\
        --model.hidden_size 32 --train.batch_size 16 --optim.lr 1e-2 --train.epochs 60
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rnnkit.config import resolve
from rnnkit.tasks.forecast import TASK, ForecastConfig
from rnnkit.train import fit

FILE = Path("airline-passengers") / "airline-passengers.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("RNNKIT_DATA", Path(__file__).parents[2] / "shared/datasets"))
    parser.add_argument("--data-dir", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=None, help="run directory [default: temp]")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = resolve(
        ForecastConfig,
        flags={
            "data.csv": str(args.data_dir / FILE),
            "data.time_column": "Month",
            "data.target": "Passengers",
            "data.lookback": 24,
            "data.horizon": 12,
            "data.val": 24,
            "data.test": 24,
            "model.hidden_size": 32,
            "optim.lr": 1e-2,
            "train.batch_size": 16,
            "train.epochs": args.epochs,
            "train.seed": args.seed,
            "train.early_stopping": 0,
            "train.threads": 1,  # tiny batches: more threads only add overhead
            "train.progress": False,
            "eval.baselines": "naive,seasonal_naive,mean,arima,ets",
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(TASK, config, out=args.out or Path(tmp) / "airline")
    test = result.metrics["test"]
    rows = {"LSTM (rnnkit)": test["original"]}
    rows.update({name: b["original"] for name, b in test["baselines"].items()})
    print(f"\nairline passengers, test months 1959-1960, 12 months ahead ({len(rows)} forecasts)")
    print(f"{'forecast':<16}{'MAE':>8}{'RMSE':>8}{'MAPE %':>8}")
    for name, m in rows.items():
        print(f"{name:<16}{m['mae']:>8.1f}{m['rmse']:>8.1f}{m['mape']:>8.1f}")
    seasonal = test["baselines"]["seasonal_naive"]["original"]["mae"]
    verdict = "beats" if test["original"]["mae"] < seasonal else "does NOT beat"
    print(f"\nthe LSTM {verdict} seasonal naive on test MAE ({test['original']['mae']:.1f} vs "
          f"{seasonal:.1f}); skill vs the random walk: {test['skill_vs_naive']:+.2f}")  # fmt: skip
    if args.out:
        print(f"run directory (plots, metrics.json, checkpoints): {args.out}")


if __name__ == "__main__":
    main()
