"""The classify task's input kinds: numeric sequences, images read as sequences, and speech.

Each loader returns labelled :class:`~rnnkit.data.Sequences` splits and the ``state`` entries
that :func:`read_inputs` needs to turn a user's files into the same kind of sequences later:

* ``sequences``: ``--dataset digits`` or ``--data FILE`` (``.npz``/``.csv``);
* ``image``: ``--dataset mnist`` (any folder of MNIST-format IDX files), read by rows, pixels or
  permuted pixels (:mod:`rnnkit.data.images`);
* ``audio``: ``--dataset fsdd``, WAV -> log-mel or MFCC frames (:mod:`rnnkit.data.audio`); the
  recordings have different lengths, so the sequences are padded and carry their lengths.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data import Sequences, load_sequences, pad_sequences, random_split
from rnnkit.data.audio import frames, read_wav, resample
from rnnkit.data.datasets.digits import load_digits
from rnnkit.data.datasets.fsdd import load_fsdd
from rnnkit.data.datasets.mnist import load_idx_dir
from rnnkit.data.fetch import data_dir
from rnnkit.data.images import image_sequences, read_images

Splits = dict[str, Sequences | None]


def load_splits(d: Any) -> tuple[Splits, dict[str, Any]]:
    """Train, val (None when the source has none) and test splits of ``config.data``."""
    if d.path:
        splits = load_sequences(d.path)
        train = splits.get("train", splits.get(""))
        if train is None or train.y is None:
            raise ValueError(f"{d.path}: needs labelled training sequences (x_train and y_train)")
        out = {"train": train, "val": splits.get("val"), "test": splits.get("test")}
        return out, {"kind": "sequences"}
    if d.dataset == "mnist":
        return _mnist(d)
    if d.dataset == "fsdd":
        return _fsdd(d)
    train, test = random_split(load_digits(), d.test_fraction, d.seed)
    return {"train": train, "val": None, "test": test}, {"kind": "sequences"}


def _limit(seqs: Sequences, limit: int, seed: int) -> Sequences:
    """A seeded random subset of ``limit`` sequences (all of them when limit is 0 or larger)."""
    if not limit or limit >= len(seqs):
        return seqs
    return seqs.subset(np.sort(np.random.default_rng(seed).permutation(len(seqs))[:limit]))


def _mnist(d: Any) -> tuple[Splits, dict[str, Any]]:
    folder = Path(d.data_dir) if d.data_dir else data_dir() / "mnist"
    out = {"val": None}
    for name in ("train", "test"):
        images, labels = load_idx_dir(folder, name, download=not d.data_dir)
        x = image_sequences(images, d.mode, d.permutation_seed) / np.float32(255.0)
        lengths = np.full(len(x), x.shape[1], dtype=np.int64)
        out[name] = _limit(Sequences(x, lengths, labels), d.limit, d.seed + 2)
    state = {
        "kind": "image",
        "image_shape": list(images.shape[1:]),
        "mode": d.mode,
        "permutation_seed": d.permutation_seed,
    }
    return out, state


def _fsdd(d: Any) -> tuple[Splits, dict[str, Any]]:
    recordings = load_fsdd(folder=d.data_dir or None)
    rate = recordings[0].rate
    state = {
        "kind": "audio",
        "sample_rate": rate,
        "features": d.audio_features,
        "n_mels": d.n_mels,
        "n_mfcc": d.n_mfcc,
    }
    out: Splits = {"val": None}
    for name in ("train", "test"):
        chosen = [r for r in recordings if r.split == name]
        if d.limit and d.limit < len(chosen):  # before computing features: they cost the most
            keep = np.sort(np.random.default_rng(d.seed + 2).permutation(len(chosen))[: d.limit])
            chosen = [chosen[i] for i in keep]
        feats = [_audio_frames(resample(r.samples, r.rate, rate), state) for r in chosen]
        x, lengths = pad_sequences(feats, f"fsdd {name}")
        labels = np.array([r.digit for r in chosen], dtype=np.int64)
        out[name] = Sequences(x, lengths, labels)
    return out, state


def _audio_frames(samples: np.ndarray, state: Mapping[str, Any]) -> np.ndarray:
    return frames(
        samples, state["sample_rate"], state["features"], state["n_mels"], state["n_mfcc"]
    )


def read_inputs(path: Path, state: Mapping[str, Any]) -> tuple[list[str] | None, Sequences]:
    """A user's files as sequences of the kind the model was trained on, with their names.

    image: a PNG, an NPY image or stack, or a folder of them; audio: a WAV or a folder of WAVs
    (resampled to the training rate); sequences: an ``.npz`` or ``.csv`` file.
    """
    kind = state.get("kind", "sequences")
    if kind == "image":
        names, images = read_images(path, tuple(state["image_shape"]))
        x = image_sequences(images, state["mode"], state["permutation_seed"]) / np.float32(255.0)
        return names, Sequences(x, np.full(len(x), x.shape[1], dtype=np.int64))
    if kind == "audio":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        files = sorted(path.glob("*.wav")) if path.is_dir() else [path]
        if not files:
            raise ValueError(f"{path}: the folder holds no .wav files")
        feats = []
        for file in files:
            samples, rate = read_wav(file)
            feats.append(_audio_frames(resample(samples, rate, state["sample_rate"]), state))
        x, lengths = pad_sequences(feats, str(path))
        return [f.name for f in files], Sequences(x, lengths)
    splits = load_sequences(path)
    name = next((s for s in ("", "test", "val", "train") if s in splits), None)
    seqs = splits[name]
    return (None if seqs.names is None else [str(n) for n in seqs.names]), seqs
