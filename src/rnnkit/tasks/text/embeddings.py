"""Initial embeddings: from a word-vector file, or word2vec trained on the training documents.

``--model.embeddings file`` reads word2vec/GloVe text vectors
(:func:`rnnkit.data.vectors.read_vectors`) for the vocabulary's tokens;
``--model.embeddings word2vec`` trains skip-gram word2vec with negative sampling (gensim;
Mikolov et al. 2013) on the training split's tokens, after the same preprocessing, so
validation and test texts are never seen. Tokens without a vector start as ``N(0, s^2)``,
``s`` the found vectors' standard deviation.

The (V, E) matrix travels to :meth:`TextTask.build_model` inside the task state as float16
(base64), and is dropped from the state saved with the best checkpoint once training is over
(the trained weights replace it).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.data import DataError
from rnnkit.data.text import Vocabulary
from rnnkit.data.vectors import read_vectors

from .model import TextModel
from .preprocess import PAD_ID


def initial_vectors(
    docs: Sequence[Sequence[str]], vocab: Vocabulary, model: TextModel, seed: int, threads: int
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The (V, E) float32 starting embeddings the config asks for (None: random) and what to
    report about them (coverage, seconds)."""
    if model.embeddings == "random":
        return None, {}
    started = time.perf_counter()
    if model.embeddings == "file":
        if not model.vectors:
            raise DataError("model.embeddings=file needs --model.vectors FILE")
        _, found = read_vectors(model.vectors, vocab.tokens[2:])
    else:
        from gensim.models import Word2Vec

        w2v = Word2Vec(
            [list(d) for d in docs],
            vector_size=model.embedding_size,
            window=model.w2v_window,
            min_count=1,
            sg=1,
            negative=5,
            epochs=model.w2v_epochs,
            seed=seed,
            workers=max(1, threads),
        )
        found = {t: w2v.wv[t] for t in vocab.tokens[2:] if t in w2v.wv.key_to_index}
    if not found:
        raise DataError(f"{model.vectors or 'word2vec'}: no vector for any vocabulary token")
    dim = len(next(iter(found.values())))
    known = np.stack(list(found.values()))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, float(known.std()), size=(len(vocab), dim)).astype(np.float32)
    for i, token in enumerate(vocab.tokens):
        if token in found:
            matrix[i] = found[token]
    matrix[PAD_ID] = 0.0
    info = {
        "vectors_found": len(found),
        "vocabulary": len(vocab),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return matrix, info


def pack(matrix: np.ndarray) -> dict[str, Any]:
    """A (V, E) matrix as JSON: float16 bytes in base64."""
    data = base64.b64encode(matrix.astype(np.float16).tobytes()).decode("ascii")
    return {"shape": list(matrix.shape), "float16": data}


def unpack(packed: Mapping[str, Any] | None) -> torch.Tensor | None:
    """The matrix :func:`pack` stored, as a float32 tensor (None stays None)."""
    if not packed:
        return None
    raw = np.frombuffer(base64.b64decode(packed["float16"]), dtype=np.float16)
    return torch.from_numpy(raw.reshape(packed["shape"]).astype(np.float32))
