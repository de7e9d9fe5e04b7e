"""Keras 3 beside rnnkit and torch.nn: time per training step of the same model, in one run.

The model: an LSTM or GRU layer of H units over (B, T, I) inputs, its last output into a linear
layer of 10 classes, sparse cross-entropy, Adam — ``Sequential([Input, LSTM(H), Dense(10)])`` in
Keras, ``rnnkit.nn.LSTM/GRU`` (defaults) and ``torch.nn.LSTM/GRU`` with a ``Linear`` here. Keras
runs in its own environment (pass its Python with ``--keras``), one long-lived worker process
per backend (``benchmarks/peers_keras_worker.py``: TensorFlow, and torch if Keras' torch backend
imports there); every round times one block of steps of each implementation, in an order rotated
from round to round, and a ratio is the median over rounds of the ratio to rnnkit within the
round. Prints a table and writes JSON.

    python benchmarks/peers.py --keras /path/to/keras-env/bin/python

Install the Keras environment with torch pinned first (an unpinned torch pulls CUDA wheels):
``python -m venv ENV && ENV/bin/pip install torch==2.13.0 && ENV/bin/pip install tensorflow-cpu
keras``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch

import rnnkit.nn as rnn

SHAPES = [(64, 28, 28, 128), (32, 100, 64, 256)]  # batch, seq, input, hidden
HERE = Path(__file__).resolve().parent


class KerasWorker:
    """A Keras process on one backend, answering timing requests over a pipe."""

    def __init__(self, python: str, backend: str, threads: int) -> None:
        env = {**os.environ, "KERAS_BACKEND": backend, "PEERS_THREADS": str(threads)}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        self.process = subprocess.Popen(
            [python, str(HERE / "peers_keras_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        hello = json.loads(self._read())
        self.version, self.backend = hello["ready"], hello["backend"]

    def _read(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the Keras worker exited with {self.process.wait()}")
        return line

    def step_time(self, cell: str, shape: tuple, steps: int) -> float:
        request = {"cell": cell, "shape": list(shape), "steps": steps}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self._read())["seconds"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class Classifier(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module, hidden: int) -> None:
        super().__init__()
        self.rnn, self.head = layer, torch.nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


def torch_timer(model: torch.nn.Module, shape: tuple) -> Callable[[int], float]:
    batch, seq, inputs, _ = shape
    x, y = torch.randn(batch, seq, inputs), torch.randint(0, 10, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    def timed(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps

    timed(3)  # warm-up
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keras", required=True, help="Python of the Keras environment")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed block")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/peers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    workers = {}
    for backend in ("tensorflow", "torch"):
        try:
            workers[f"keras-{backend}"] = KerasWorker(args.keras, backend, args.threads)
        except RuntimeError as error:
            print(f"Keras on {backend} is unavailable: {error}")
    print(
        f"load average at start: {' '.join(f'{v:.2f}' for v in load)}; torch "
        f"{torch.__version__}, {args.threads} threads; Keras "
        + ", ".join(f"{w.version} on {w.backend}" for w in workers.values())
    )
    names = ["rnnkit", "torch.nn", *workers]
    print(f"\n{'cell':5} {'B,T,I,H':14}" + "".join(f" {n:>22}" for n in names))
    rows = []
    for cell in ("LSTM", "GRU"):
        for shape in SHAPES:
            hidden = shape[3]
            timers: dict[str, Callable[[int], float]] = {
                "rnnkit": torch_timer(
                    Classifier(getattr(rnn, cell)(shape[2], hidden, batch_first=True), hidden),
                    shape,
                ),
                "torch.nn": torch_timer(
                    Classifier(getattr(torch.nn, cell)(shape[2], hidden, batch_first=True), hidden),
                    shape,
                ),
            }
            for name, worker in workers.items():
                worker.step_time(cell, shape, 1)  # builds and warms the model
                timers[name] = lambda n, w=worker, c=cell, s=shape: w.step_time(c, s, n)
            samples: dict[str, list[float]] = {n: [] for n in names}
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    samples[name].append(timers[name](args.steps))
            seconds = {n: statistics.median(s) for n, s in samples.items()}
            ratio = {
                n: statistics.median(a / b for a, b in zip(s, samples["rnnkit"], strict=True))
                for n, s in samples.items()
            }
            rows.append(
                {"cell": cell, "shape": shape, "seconds": seconds, "ratio_to_rnnkit": ratio}
            )
            print(
                f"{cell:5} {','.join(map(str, shape)):14}"
                + "".join(f" {seconds[n] * 1e3:9.1f}ms {ratio[n]:6.2f}x" for n in names)
            )
    for worker in workers.values():
        worker.close()
    print("\nratios: time per training step / rnnkit's, median of paired rounds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "load_average_at_start": load,
                "torch": torch.__version__,
                "keras": {n: w.version for n, w in workers.items()},
                "threads": args.threads,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
