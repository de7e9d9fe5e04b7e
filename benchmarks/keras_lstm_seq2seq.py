"""The Keras 3 character-level ``lstm_seq2seq`` example, trained on a given split for a time budget.

Run by ``benchmarks/translate.py`` with the Python of a separate environment that has Keras (no
rnnkit import here). The model, optimiser, loss and batch size are the example's
(keras-io ``examples/nlp/lstm_seq2seq.py``: one-hot characters -> LSTM(256) encoder whose final
states start an LSTM(256) decoder -> Dense softmax over characters, RMSprop, categorical
cross-entropy, batch 64, teacher forcing, greedy decoding until ``\\n``). What differs, and why:

* every training pair of the split instead of the first 10,000 lines of ``fra.txt``, one-hot
  encoded batch by batch (all of them at once would take ~10 GB), padded with spaces to the
  longest sentence of the data as the example pads;
* training stops when the time budget is spent (checked after every batch) instead of after
  100 epochs, and no validation split is carved off;
* decoding is the example's greedy loop run on 512 sentences at once.

Usage: ``python keras_lstm_seq2seq.py --train train.tsv --sources test_sources.txt --budget 3600
--output hypotheses.txt --report report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import keras
import numpy as np

BATCH_SIZE, LATENT_DIM = 64, 256


def read_pairs(path: str) -> tuple[list[str], list[str]]:
    sources, targets = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            s, t = line.rstrip("\n").split("\t")[:2]
            sources.append(s)
            targets.append("\t" + t + "\n")  # the example's start and end characters
    return sources, targets


def one_hot(texts: list[str], index: dict[str, int], length: int, pad: str = " ") -> np.ndarray:
    out = np.zeros((len(texts), length, len(index)), dtype="float32")
    for i, text in enumerate(texts):
        text = text[:length]
        for t, ch in enumerate(text):
            if ch in index:
                out[i, t, index[ch]] = 1.0
        out[i, len(text) :, index[pad]] = 1.0
    return out


class Batches(keras.utils.PyDataset):
    """Shuffled one-hot batches: (encoder input, decoder input) -> decoder target."""

    def __init__(self, sources, targets, in_index, out_index, lengths, seed=0):
        super().__init__()
        self.sources, self.targets, self.lengths = sources, targets, lengths
        self.in_index, self.out_index = in_index, out_index
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(sources))

    def __len__(self):
        return math.ceil(len(self.sources) / BATCH_SIZE)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.sources))

    def __getitem__(self, k):
        rows = self.order[k * BATCH_SIZE : (k + 1) * BATCH_SIZE]
        src = [self.sources[i] for i in rows]
        tgt = [self.targets[i] for i in rows]
        S, T = self.lengths
        enc = one_hot(src, self.in_index, S)
        dec_in = one_hot(tgt, self.out_index, T)
        dec_out = one_hot([t[1:] for t in tgt], self.out_index, T)  # one step ahead
        return (enc, dec_in), dec_out


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall time have passed since training started."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.steps, self.epochs = seconds, 0, 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = epoch + 1


def build(num_in: int, num_out: int) -> keras.Model:
    encoder_inputs = keras.Input(shape=(None, num_in))
    encoder = keras.layers.LSTM(LATENT_DIM, return_state=True)
    _, state_h, state_c = encoder(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, num_out))
    decoder_lstm = keras.layers.LSTM(LATENT_DIM, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_outputs = keras.layers.Dense(num_out, activation="softmax")(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def inference_models(model: keras.Model, num_out: int):
    """The example's encoder and one-step decoder models, sharing the trained layers."""
    encoder_model = keras.Model(model.input[0], list(model.layers[2].output[1:]))
    decoder_inputs = keras.Input(shape=(None, num_out))
    h, c = keras.Input(shape=(LATENT_DIM,)), keras.Input(shape=(LATENT_DIM,))
    out, h2, c2 = model.layers[3](decoder_inputs, initial_state=[h, c])
    decoder_model = keras.Model([decoder_inputs, h, c], [model.layers[4](out), h2, c2])
    return encoder_model, decoder_model


def decode(model, sources, in_index, out_index, lengths, batch=512) -> list[str]:
    """The example's greedy loop (argmax, stop at ``\\n`` or the length limit), batched."""
    encoder_model, decoder_model = inference_models(model, len(out_index))
    chars = {i: ch for ch, i in out_index.items()}
    out = []
    for start in range(0, len(sources), batch):
        part = sources[start : start + batch]
        h, c = encoder_model.predict_on_batch(one_hot(part, in_index, lengths[0]))
        token = np.zeros((len(part), 1, len(out_index)), dtype="float32")
        token[:, 0, out_index["\t"]] = 1.0
        texts, done = [""] * len(part), np.zeros(len(part), dtype=bool)
        for _ in range(lengths[1]):
            probs, h, c = decoder_model.predict_on_batch([token, h, c])
            best = np.asarray(probs)[:, -1].argmax(-1)
            token = np.zeros_like(token)
            token[np.arange(len(part)), 0, best] = 1.0
            for i, k in enumerate(best):
                if not done[i]:
                    if chars[k] == "\n":
                        done[i] = True
                    else:
                        texts[i] += chars[k]
            if done.all():
                break
        out.extend(texts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--sources", required=True)
    parser.add_argument("--budget", type=float, required=True, help="training seconds")
    parser.add_argument("--output", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    sources, targets = read_pairs(args.train)
    in_chars = sorted(set("".join(sources)) | {" "})
    out_chars = sorted(set("".join(targets)) | {" "})
    in_index = {ch: i for i, ch in enumerate(in_chars)}
    out_index = {ch: i for i, ch in enumerate(out_chars)}
    lengths = (max(map(len, sources)), max(map(len, targets)))  # the example's maxima
    model = build(len(in_index), len(out_index))
    budget = TimeBudget(args.budget)
    started = time.perf_counter()
    history = model.fit(
        Batches(sources, targets, in_index, out_index, lengths, args.seed),
        epochs=1000,
        callbacks=[budget],
        verbose=2,
    )
    train_s = time.perf_counter() - started
    with open(args.sources, encoding="utf-8") as f:
        test_sources = [line.rstrip("\n") for line in f]
    started = time.perf_counter()
    hypotheses = decode(model, test_sources, in_index, out_index, lengths)
    decode_s = time.perf_counter() - started
    with open(args.output, "w", encoding="utf-8") as f:
        f.writelines(h.replace("\n", " ") + "\n" for h in hypotheses)
    report = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "train_pairs": len(sources),
        "train_s": train_s,
        "decode_s": decode_s,
        "steps": budget.steps,
        "epochs_finished": budget.epochs,
        "last_loss": float(history.history["loss"][-1]) if history.history.get("loss") else None,
        "parameters": model.count_params(),
        "input_chars": len(in_index),
        "output_chars": len(out_index),
    }
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
