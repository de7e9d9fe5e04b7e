"""Keras side of ``benchmarks/peers.py``: runs in Keras' own environment, one backend per process.

Reads one JSON request per line on stdin — ``{"cell": "LSTM"|"GRU", "shape": [B, T, I, H],
"steps": n}`` — and answers one JSON line: the seconds per training step of n calls of
``train_on_batch`` on a ``Sequential([Input((T, I)), LSTM|GRU(H), Dense(10)])`` with Adam and
sparse cross-entropy from logits, after a warm-up (the first request of a shape builds and warms
its model). The backend comes from ``KERAS_BACKEND`` (``tensorflow`` or ``torch``).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

THREADS = int(os.environ.get("PEERS_THREADS", "2"))
if os.environ.get("KERAS_BACKEND") == "tensorflow":
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
else:
    import torch

    torch.set_num_threads(THREADS)

import keras  # noqa: E402  (after the backend's thread settings)

models: dict[tuple, tuple] = {}


def model_for(cell: str, shape: tuple[int, int, int, int]):
    key = (cell, shape)
    if key not in models:
        batch, seq, inputs, hidden = shape
        layer = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[cell]
        model = keras.Sequential(
            [keras.Input((seq, inputs)), layer(hidden), keras.layers.Dense(10)]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, seq, inputs)).astype("float32")
        y = rng.integers(0, 10, size=(batch,))
        for _ in range(3):
            model.train_on_batch(x, y)
        models[key] = (model, x, y)
    return models[key]


def main() -> None:
    print(json.dumps({"ready": keras.__version__, "backend": keras.backend.backend()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        model, x, y = model_for(request["cell"], tuple(request["shape"]))
        start = time.perf_counter()
        for _ in range(request["steps"]):
            model.train_on_batch(x, y)
        seconds = (time.perf_counter() - start) / request["steps"]
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
