r"""The language model: embedding -> stacked recurrent layers -> linear over the vocabulary.

    tokens (N, L) -> Embedding (L, N, E) -> rnnkit.nn LSTM/GRU/RNN (L, N, H)
    -> dropout -> Linear -> logits (N, L, V)

N streams (batch), L tokens per chunk, E embedding size, H hidden size, V vocabulary size.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.nn import make_encoder

State = Tensor | tuple[Tensor, ...]


class LanguageModel(nn.Module):
    """Embedding -> stacked recurrent layers -> linear over the vocabulary.

    Args:
        vocab_size: V, the number of token ids.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
        embedding_size: E.
        hidden_size: H.
        num_layers: stacked recurrent layers.
        dropout: dropout between recurrent layers and before the output layer.
        layer_norm: layer-normalised cells (rnnkit's cells instead of the fused kernels).
        tie_weights: share the embedding matrix with the output layer (needs E == H).
        fused: ``"auto"`` | True | False, passed to the recurrent layer.

    ``forward(tokens, state=None) -> (logits, state)``: tokens (N, L) int64, batch first (as
    the engine's batches are); logits (N, L, V); state as the recurrent layer's
    ((num_layers, N, H), a pair (h, c) for LSTM).
    """

    def __init__(
        self,
        vocab_size: int,
        cell: str = "lstm",
        embedding_size: int = 64,
        hidden_size: int = 512,
        num_layers: int = 2,
        dropout: float = 0.0,
        layer_norm: bool = False,
        tie_weights: bool = False,
        fused: bool | str = "auto",
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size (the output layer reuses the "
                f"embedding matrix), got embedding_size={embedding_size}, "
                f"hidden_size={hidden_size}"
            )
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = make_encoder(
            cell,
            embedding_size,
            hidden_size,
            num_layers,
            batch_first=False,  # time-major suits the recurrent kernels
            dropout=dropout if num_layers > 1 else 0.0,
            layer_norm=layer_norm,
            fused=fused,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight
        self.vocab_size = vocab_size

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        x = self.embedding(tokens.t())  # (L, N, E): time-major suits the recurrent kernels
        out, state = self.rnn(x, state)  # (L, N, H)
        return self.head(self.drop(out)).transpose(0, 1), state  # (N, L, V)


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
