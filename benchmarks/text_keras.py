"""The Keras peer for benchmarks/text.py: Keras 3's bidirectional LSTM IMDB example, on our split.

The model is the one of keras.io/examples/nlp/bidirectional_lstm_imdb ("Bidirectional LSTM on
IMDB")::

    Embedding(V, 128) -> Bidirectional(LSTM(64, return_sequences=True))
                      -> Bidirectional(LSTM(64)) -> Dense(1, sigmoid)

Adam, binary cross-entropy, batch 32; documents padded and truncated to ``--maxlen`` tokens at the
front (``keras.utils.pad_sequences``' defaults, as in the example). It reads the token ids that
benchmarks/text.py wrote (same split, same vocabulary), trains ``--epochs`` epochs while watching
validation, then scores the test split once. Run it with a Python that has keras (any backend;
``KERAS_BACKEND`` picks it) and prints one JSON line.

    KERAS_BACKEND=tensorflow KERAS_ENV/bin/python benchmarks/text_keras.py IDS.npz --epochs 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np


def ragged(data: np.lib.npyio.NpzFile, split: str) -> list[np.ndarray]:
    ids, offsets = data[f"{split}_ids"], data[f"{split}_offsets"]
    return [ids[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def limit_threads(backend: str, threads: int) -> None:
    """Run the backend's kernels on ``threads`` threads (TensorFlow ignores OMP_NUM_THREADS)."""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", help="the .npz benchmarks/text.py wrote")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: the backend's)")
    args = parser.parse_args()

    import keras
    from keras import layers

    if args.threads:
        limit_threads(keras.backend.backend(), args.threads)
    keras.utils.set_random_seed(args.seed)
    data = np.load(args.ids)
    vocab = int(data["vocab_size"])
    x, y = {}, {}
    for split in ("train", "validation", "test"):
        x[split] = keras.utils.pad_sequences(ragged(data, split), maxlen=args.maxlen)
        y[split] = data[f"{split}_y"].astype("float32")

    inputs = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(vocab, 128)(inputs)
    h = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(h)
    h = layers.Bidirectional(layers.LSTM(64))(h)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

    epoch_times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.started)

    started = time.perf_counter()
    history = model.fit(
        x["train"], y["train"], batch_size=args.batch_size, epochs=args.epochs,
        validation_data=(x["validation"], y["validation"]), callbacks=[Timer()], verbose=2,
    )  # fmt: skip
    train_s = time.perf_counter() - started
    _, test_accuracy = model.evaluate(x["test"], y["test"], batch_size=256, verbose=0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
                "vocab_size": vocab,
                "maxlen": args.maxlen,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "val_accuracy": [float(v) for v in history.history["val_accuracy"]],
                "test_accuracy": float(test_accuracy),
                "train_s": round(train_s, 1),
                "epoch_s": [round(t, 1) for t in epoch_times],
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                "threads": args.threads or os.environ.get("OMP_NUM_THREADS", "default"),
            }
        )
    )


if __name__ == "__main__":
    main()
