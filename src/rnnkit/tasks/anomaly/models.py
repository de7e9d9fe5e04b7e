"""The networks behind the detectors: a window autoencoder and a next-steps forecaster.

Shapes: N windows, L window length, C value columns, H hidden size, P forecast horizon.
Both models are batch-first and built from :mod:`rnnkit.nn` layers (``cell`` = ``"lstm"``,
``"gru"`` or ``"rnn"``); ``encode`` gives the (N, H) features the scikit-learn detectors use.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.nn import GRU, LSTM, RNN

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int) -> nn.Module:
    """A batch-first ``rnnkit.nn`` LSTM, GRU or tanh RNN."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden_size, num_layers, batch_first=True)


class WindowAutoencoder(nn.Module):
    """Sequence autoencoder: encoder RNN → last hidden state z → decoder RNN → window.

    The decoder reads z at every step and reconstructs the window in reverse order, last record
    first (Srivastava et al., 2015; Malhotra et al., 2016), which the training loss undoes.
    ``forward``: (N, L, C) -> (N, L, C).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.encoder = make_rnn(cell, input_size, hidden_size, num_layers)
        self.decoder = make_rnn(cell, hidden_size, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, input_size)

    def encode(self, x: Tensor) -> Tensor:
        """(N, L, C) -> (N, H): the encoder's output at the last step."""
        output, _ = self.encoder(x)
        return output[:, -1]

    def forward(self, x: Tensor) -> Tensor:
        z = self.encode(x)  # (N, H)
        repeated = z.unsqueeze(1).expand(-1, x.shape[1], -1)  # (N, L, H)
        output, _ = self.decoder(repeated)
        return self.head(output).flip(1)  # (N, L, C), back in time order


class Forecaster(nn.Module):
    """RNN over a window of L records → linear head → the next P records.

    ``forward``: (N, L, C) -> (N, P, C).
    """

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, horizon: int = 1
    ):
        super().__init__()
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, horizon * input_size)
        self.horizon = horizon

    def encode(self, x: Tensor) -> Tensor:
        """(N, L, C) -> (N, H)."""
        output, _ = self.rnn(x)
        return output[:, -1]

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encode(x)).view(x.shape[0], self.horizon, x.shape[2])
