r"""A character-level language model from scratch in NumPy ("RNN from scratch", done right).

    one-hot x_t (N, V) -> RNN / LSTM / GRU layer -> h_t (N, H) -> logits = W h_t + b (N, V)
    -> softmax -> cross-entropy with the next character

Training is truncated backpropagation through time over B parallel streams: the text is cut
into B contiguous pieces, each step reads the next ``seq_len`` characters of every piece (a
(T, B) batch), and the final state of one chunk is the initial state of the next (the gradient
stops at the chunk boundary). Gradients are clipped by their global norm, then Adam (or Adagrad,
as in Karpathy's min-char-rnn) updates the weights. The forward and backward passes are those of
:mod:`rnnkit.reference.layers`; only the softmax head is written here.

Run it::

    python -m rnnkit.reference.charlm input.txt --steps 500 --print-every 50

Losses are in nats per character; a model that has learnt nothing but letter frequencies scores
the unigram entropy of the text (about 3.3 nats/char for tinyshakespeare).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from rnnkit.reference.clip import clip_grad_norm
from rnnkit.reference.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.reference.optim import OPTIMIZERS
from rnnkit.reference.params import Params

LAYERS: dict[str, type[Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def unigram_entropy(text: str) -> float:
    r"""Entropy of the character frequencies, :math:`-\sum_c p_c \ln p_c`, in nats per character."""
    if not text:
        raise ValueError("text must not be empty")
    counts = np.array(list(Counter(text).values()), dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def smooth(losses: Sequence[float], beta: float = 0.95) -> list[float]:
    """Exponential moving average with bias correction (the "smoothed loss" of the logs)."""
    out, avg = [], 0.0
    for t, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta**t))
    return out


def blas_threads(n: int | None):
    """Limit the BLAS thread pool to ``n`` threads inside a ``with`` block (None: no limit).

    The matrices of a char-level model are small, and on a busy machine BLAS threads waiting
    for each other cost far more than they save (50x slower was seen on 2 shared cores).
    Uses threadpoolctl when it is installed (it comes with scikit-learn); else does nothing.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return contextlib.nullcontext() if n is None else threadpool_limits(n, user_api="blas")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the max for stability."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class CharLM:
    """Character-level language model: one-hot -> recurrent layer(s) -> linear -> softmax.

    Args:
        vocab: the characters (a string or a sequence of single characters, no repeats);
            ``CharLM.from_text(text)`` uses the sorted set of the text's characters.
        hidden_size: H of the recurrent layer.  num_layers: stacked layers.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).  seed: initialiser seed.

    Parameters (``self.params``): ``rnn.<torch name>`` for the recurrent layer and
    ``head.weight`` (V, H), ``head.bias`` (V,) for the output layer (initialised like
    ``torch.nn.Linear``).
    """

    def __init__(
        self,
        vocab: str | Sequence[str],
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        seed: int | None = 0,
    ) -> None:
        chars = list(vocab)
        if not chars or len(set(chars)) != len(chars):
            raise ValueError(f"vocab must be non-empty characters without repeats, got {vocab!r}")
        if cell not in LAYERS:
            raise ValueError(f"cell must be one of {sorted(LAYERS)}, got {cell!r}")
        self.chars, self.cell = chars, cell
        self.stoi = {c: i for i, c in enumerate(chars)}
        V = len(chars)
        rnn_seed, head_seed = np.random.SeedSequence(seed).generate_state(2)
        self.rnn = LAYERS[cell](V, hidden_size, num_layers, seed=int(rnn_seed))
        k = 1.0 / math.sqrt(hidden_size)
        rng = np.random.default_rng(int(head_seed))
        self.head = {
            "weight": rng.uniform(-k, k, (V, hidden_size)),
            "bias": rng.uniform(-k, k, (V,)),
        }

    @classmethod
    def from_text(cls, text: str, **kwargs) -> CharLM:
        """A model over the sorted set of characters that occur in ``text``."""
        return cls(sorted(set(text)), **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @property
    def params(self) -> Params:
        """Every parameter array (the arrays themselves, not copies), with prefixed names."""
        return {
            **{f"rnn.{name}": p for name, p in self.rnn.params.items()},
            **{f"head.{name}": p for name, p in self.head.items()},
        }

    # -------------------------------------------------------------------------------- text <-> ids
    def encode(self, text: str) -> np.ndarray:
        """Character ids (len(text),), vectorised: code points looked up in the sorted vocab."""
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"text has characters outside the vocabulary: {unknown[:10]}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        vocab_codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        order = np.argsort(vocab_codes)
        return order[np.searchsorted(vocab_codes[order], codes)].astype(np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    # ----------------------------------------------------------------------- forward / backward
    def forward(self, ids: np.ndarray, state=None):
        """ids (T, N) ints -> logits (T, N, V) and the recurrent layer's final state."""
        x = np.eye(self.vocab_size)[ids]  # (T, N, V) one-hot
        h, state = self.rnn.forward(x, state)  # (T, N, H)
        self._h = h
        return h @ self.head["weight"].T + self.head["bias"], state

    def loss_and_grads(self, inputs: np.ndarray, targets: np.ndarray, state=None):
        """Mean cross-entropy of ``targets`` (T, N) given ``inputs`` (T, N); its gradients.

        Returns ``(loss, grads, final_state)``, grads keyed like ``self.params``.
        """
        logits, state = self.forward(inputs, state)
        probs = softmax(logits)  # (T, N, V)
        T, N = targets.shape
        t, n = np.meshgrid(np.arange(T), np.arange(N), indexing="ij")
        loss = float(-np.log(probs[t, n, targets]).mean())

        d_logits = probs  # d loss / d logits = (softmax - one_hot(target)) / (T N)
        d_logits[t, n, targets] -= 1.0
        d_logits /= T * N
        h = self._h
        grads = {
            "head.weight": np.einsum("tnv,tnh->vh", d_logits, h),
            "head.bias": d_logits.sum(axis=(0, 1)),
        }
        _, rnn_grads = self.rnn.backward(d_logits @ self.head["weight"])  # d h: (T, N, H)
        grads.update({f"rnn.{name}": g for name, g in rnn_grads.items()})
        return loss, grads, state

    # -------------------------------------------------------------------------------- training
    def train(
        self,
        text: str,
        steps: int = 500,
        seq_len: int = 64,
        batch_size: int = 32,
        lr: float = 1e-2,
        optimizer: str = "adam",
        clip: float | None = 5.0,
        log_every: int = 0,
        log: Callable[[str], None] = print,
        threads: int | None = 1,
    ) -> list[float]:
        """Truncated BPTT over ``batch_size`` parallel streams of ``text``; returns the losses.

        Args:
            text: the training text (its characters must be in the vocabulary).
            steps: optimiser steps.  seq_len: characters per stream per step (BPTT length).
            batch_size: parallel streams.  lr: learning rate.
            optimizer: ``"adam"``, ``"adagrad"`` or ``"sgd"`` (a fresh one for every call).
            clip: max global gradient norm (None: no clipping).
            log_every: call ``log`` with the step, loss and smoothed loss every this many steps.
            threads: BLAS threads while training (see :func:`blas_threads`; None: no limit).

        Returns:
            The loss (nats/char) of every step; see :func:`smooth` for the smoothed curve.
        """
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        data = self.encode(text)
        per_stream = (len(data) - 1) // batch_size
        if per_stream < seq_len:
            raise ValueError(
                f"text is too short: {len(data)} characters give {per_stream} per stream for "
                f"batch_size={batch_size}, fewer than seq_len={seq_len}"
            )
        # Stream b is data[b * n : (b + 1) * n]; time-major (n, B) so a chunk is a (T, B) slice.
        n = per_stream
        inputs = data[: n * batch_size].reshape(batch_size, n).T
        targets = data[1 : n * batch_size + 1].reshape(batch_size, n).T

        opt = OPTIMIZERS[optimizer](self.params, lr=lr)
        losses: list[float] = []
        state, pos, start = None, 0, time.perf_counter()
        with blas_threads(threads):
            for step in range(1, steps + 1):
                if pos + seq_len > n:  # the streams are used up: start again from fresh state
                    state, pos = None, 0
                chunk = slice(pos, pos + seq_len)
                loss, grads, state = self.loss_and_grads(inputs[chunk], targets[chunk], state)
                if clip:
                    grads, _ = clip_grad_norm(grads, clip)
                opt.step(grads)
                losses.append(loss)
                pos += seq_len
                if log_every and step % log_every == 0:
                    log(
                        f"step {step:5d}  loss {loss:.4f}  smoothed {smooth(losses)[-1]:.4f}  "
                        f"({time.perf_counter() - start:.1f}s)"
                    )
        return losses

    def evaluate(self, text: str, seq_len: int = 256) -> float:
        """Mean loss (nats/char) of predicting each next character of ``text``, state carried."""
        data = self.encode(text)
        if len(data) < 2:
            raise ValueError("text must have at least 2 characters")
        total, state = 0.0, None
        for start in range(0, len(data) - 1, seq_len):
            x = data[start : start + seq_len][:, None]  # (T, 1)
            y = data[start + 1 : start + seq_len + 1][:, None]
            x = x[: len(y)]
            logits, state = self.forward(x, state)
            probs = softmax(logits)[np.arange(len(y)), 0, y[:, 0]]
            total += float(-np.log(probs).sum())
        return total / (len(data) - 1)

    # -------------------------------------------------------------------------------- sampling
    def sample(
        self, prime: str = "", length: int = 200, temperature: float = 1.0, seed: int | None = None
    ) -> str:
        """``prime`` followed by ``length`` sampled characters (softmax(logits / temperature)).

        The same seed gives the same text. With an empty prime, the first character is drawn
        uniformly from the vocabulary.
        """
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        rng = np.random.default_rng(seed)
        ids = self.encode(prime) if prime else np.array([rng.integers(self.vocab_size)])
        logits, state = self.forward(ids[:, None])  # feed the prime: (T, 1)
        out = []
        for _ in range(length):
            p = softmax(logits[-1, 0] / temperature)
            next_id = int(rng.choice(self.vocab_size, p=p))
            out.append(next_id)
            logits, state = self.forward(np.array([[next_id]]), state)
        return (prime or self.chars[int(ids[0])]) + self.decode(out)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: train on a text file, print the loss as it goes, then a sample."""
    parser = argparse.ArgumentParser(
        prog="python -m rnnkit.reference.charlm", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("file", help="a UTF-8 text file, e.g. tinyshakespeare/input.txt")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--cell", choices=sorted(LAYERS), default="lstm")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    parser.add_argument("--clip", type=float, default=5.0, help="max gradient norm (0: none)")
    parser.add_argument("--print-every", type=int, default=50)
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--prime", default="\n")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with open(args.file, encoding="utf-8") as f:
        text = f.read()
    model = CharLM.from_text(
        text,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        cell=args.cell,
        seed=args.seed,
    )
    print(
        f"{len(text):,} characters, vocabulary {model.vocab_size}, "
        f"{sum(p.size for p in model.params.values()):,} parameters"
    )
    print(f"unigram entropy {unigram_entropy(text):.4f} nats/char")
    losses = model.train(
        text,
        steps=args.steps,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        clip=args.clip or None,
        log_every=args.print_every,
    )
    print(f"final smoothed loss {smooth(losses)[-1]:.4f} nats/char")
    prime = args.prime if set(args.prime) <= set(model.stoi) else ""
    print("--- sample ---")
    print(model.sample(prime, args.sample_length, args.temperature, seed=args.seed))


if __name__ == "__main__":
    main()
