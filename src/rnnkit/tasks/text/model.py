"""The document classifier: embedding -> (bi)directional LSTM/GRU -> pooling -> linear head.

Shapes: N documents, T tokens (the batch's longest document), E embedding size, D directions,
H hidden units per direction, C classes.

::

    w'  = <unk> where u < word_dropout (training only)              (N, T)
    x   = LockedDropout(Embedding(w'))                              (N, T, E)
    h   = BiRNN(x, lengths)                                         (N, T, D*H), zero past each end
    v   = pool(h) over real steps t < length_n                      (N, P)
    logits = Linear(Dropout(v))                                     (N, C)

Pooling: ``last`` (forward state at the last real token, backward state at the first),
``mean`` (sum over real steps / length), ``max`` (per unit over real steps), ``mean+max``
(both, concatenated) or ``attention``: ``a = softmax_t(u^T tanh(W h_t + b))`` over real steps,
``v = sum_t a_t h_t``.

Variable lengths: the ``reverse`` path runs each direction as a one-directional fused layer over
the padded batch, the backward one over every document reversed within its length
(:func:`rnnkit.nn.reverse_padded`), so no real step ever reads padding and the outputs at real
steps equal the packed layer's; the padding steps that trail a batch's shorter documents are
computed and then ignored (with length bucketing they are a few percent of a batch). The
``packed`` path hands ``lengths`` to a bidirectional ``make_encoder`` layer, which packs the
batch and computes nothing on padding; on this project's CPUs it trained several times slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.config import Section, option
from rnnkit.data import length_mask
from rnnkit.nn import CellName, LockedDropout, make_encoder, reverse_padded

from .preprocess import PAD_ID, UNK_ID


@dataclass(frozen=True)
class TextModel(Section):
    """Embeddings, the recurrent encoder, pooling and the head."""

    embedding_size: int = option(128, "word embedding size (a vector file's size wins)", low=1)
    embeddings: Literal["random", "file", "word2vec"] = option(
        "random",
        "how embeddings start: random; file: vectors from model.vectors (word2vec/GloVe text); "
        "word2vec: trained on the training texts with gensim before training",
    )
    vectors: str = option("", "embeddings=file: a word2vec or GloVe text file (.gz too)")
    w2v_epochs: int = option(5, "embeddings=word2vec: passes over the training texts", low=1)
    w2v_window: int = option(5, "embeddings=word2vec: context words on each side", low=1)
    train_embeddings: bool = option(
        True, "update the embeddings while training (off: pretrained vectors stay fixed)"
    )
    cell: CellName = option("lstm", "recurrent layer type (rnnkit.nn)")
    hidden_size: int = option(128, "hidden units per direction", low=1)
    num_layers: int = option(1, "stacked recurrent layers", low=1, high=4)
    bidirectional: bool = option(True, "also read each document backwards")
    path: Literal["reverse", "packed"] = option(
        "reverse",
        "variable lengths: reverse (fused one-directional layers, the backward one over each "
        "document reversed within its length) or packed (packed sequences)",
    )
    embedding_dropout: float = option(
        0.3, "dropout of embedding units, one mask per document", low=0, high=0.99
    )
    word_dropout: float = option(
        0.0, "training: replace a token by <unk> with this probability", low=0, high=0.99
    )
    dropout: float = option(0.2, "dropout between recurrent layers", low=0, high=0.99)
    pooling: Literal["last", "mean", "max", "mean+max", "attention"] = option(
        "max", "how the outputs over real tokens become one vector"
    )
    head_dropout: float = option(0.3, "dropout before the linear head", low=0, high=0.99)
    class_weights: bool = option(
        False, "weight the loss by inverse class frequency in training (imbalanced data)"
    )


class DocumentEncoder(nn.Module):
    """(N, T, E) embedded documents and (N,) lengths -> (N, T, D*H) outputs, zero past each
    document's end, and (N, D*H) "last" states (forward at ``length-1``, backward at 0)."""

    def __init__(self, input_size: int, config: TextModel) -> None:
        super().__init__()
        self.directions = 2 if config.bidirectional else 1
        self.hidden_size = config.hidden_size
        self.output_size = self.directions * config.hidden_size
        self.packed = config.path == "packed"
        if self.packed:
            self.rnn = make_encoder(
                config.cell,
                input_size,
                config.hidden_size,
                config.num_layers,
                dropout=config.dropout,
                bidirectional=config.bidirectional,
            )
            return
        sizes = [input_size] + [self.output_size] * (config.num_layers - 1)
        self.layers = nn.ModuleList(
            nn.ModuleList(
                make_encoder(config.cell, s, config.hidden_size) for _ in range(self.directions)
            )
            for s in sizes
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        N, T = x.shape[:2]
        mask = length_mask(lengths.to(x.device), T).unsqueeze(-1)  # (N, T, 1)
        if self.packed:
            out, _ = self.rnn(x, lengths=lengths)
        else:
            for level, directions in enumerate(self.layers):
                if level:
                    x = self.dropout(x)
                outs = [directions[0](x)[0]]
                if self.directions == 2:
                    flipped = reverse_padded(x.transpose(0, 1), lengths).transpose(0, 1)
                    back = directions[1](flipped)[0]
                    outs.append(reverse_padded(back.transpose(0, 1), lengths).transpose(0, 1))
                x = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]
            out = x * mask  # (N, T, D*H): the trailing padding steps are dropped
        last_t = (lengths.to(x.device) - 1).view(N, 1, 1).expand(N, 1, self.hidden_size)
        last = [out[:, :, : self.hidden_size].gather(1, last_t).squeeze(1)]
        if self.directions == 2:
            last.append(out[:, 0, self.hidden_size :])
        return out, torch.cat(last, dim=1)


class TextClassifier(nn.Module):
    """Token ids (N, T) and lengths (N,) -> logits (N, C) (see the module docstring).

    Args:
        vocab_size: V, ids 0 and 1 being ``<pad>`` and ``<unk>``.
        num_classes: C.
        config: sizes, cell, dropouts, pooling.
        vectors: optional (V, E) initial embeddings (pretrained); E then overrides
            ``config.embedding_size``.
    """

    def __init__(
        self, vocab_size: int, num_classes: int, config: TextModel, vectors: Tensor | None = None
    ) -> None:
        super().__init__()
        size = vectors.shape[1] if vectors is not None else config.embedding_size
        self.embedding = nn.Embedding(vocab_size, size, padding_idx=PAD_ID)
        if vectors is not None:
            with torch.no_grad():
                self.embedding.weight.copy_(vectors)
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.embedding.weight.requires_grad_(config.train_embeddings)
        self.word_dropout = config.word_dropout
        self.embedding_dropout = LockedDropout(config.embedding_dropout)
        self.encoder = DocumentEncoder(size, config)
        self.pooling = config.pooling
        H = self.encoder.output_size
        if config.pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(H, H), nn.Tanh(), nn.Linear(H, 1, bias=False))
        pooled = 2 * H if config.pooling == "mean+max" else H
        self.head_dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(pooled, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.classify(ids, lengths)[0]

    def classify(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """(logits (N, C), weights (N, T) or None): attention weights, or for max pooling the
        share of units whose maximum falls on each token; None for last and mean pooling."""
        if self.training and self.word_dropout > 0:
            drop = torch.rand(ids.shape, device=ids.device) < self.word_dropout
            ids = ids.masked_fill(drop & (ids != PAD_ID), UNK_ID)
        x = self.embedding_dropout(self.embedding(ids))
        out, last = self.encoder(x, lengths)  # (N, T, D*H), (N, D*H)
        mask = length_mask(lengths.to(ids.device), ids.shape[1]).unsqueeze(-1)  # (N, T, 1)
        weights = None
        if self.pooling == "last":
            v = last
        elif self.pooling == "attention":
            scores = self.attention(out).masked_fill(~mask, float("-inf"))  # (N, T, 1)
            a = torch.softmax(scores, dim=1)
            v, weights = (a * out).sum(1), a.squeeze(-1)
        else:
            mean = out.sum(1) / lengths.to(out.device, out.dtype).unsqueeze(1)
            peak, where = out.masked_fill(~mask, float("-inf")).max(1)  # (N, D*H)
            if self.pooling in ("max", "mean+max"):
                share = torch.zeros(ids.shape, device=ids.device, dtype=out.dtype)
                weights = share.scatter_add_(1, where, torch.ones_like(peak)) / peak.shape[1]
            v = {"mean": mean, "max": peak, "mean+max": torch.cat([mean, peak], 1)}[self.pooling]
        return self.head(self.head_dropout(v)), weights
